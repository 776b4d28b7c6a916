from tests.conftest import PASSWORD

BODIES = {
    "auth.login": lambda world: {"tenant": "acme", "username": "owner", "password": PASSWORD},
    "tutorial.login": lambda world: {"tenant": "acme", "username": "owner", "password": PASSWORD},
}
