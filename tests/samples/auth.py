from tests.conftest import PASSWORD

BODIES = {
    "auth.login": lambda world: {"tenant": "acme", "username": "owner", "password": PASSWORD},
    "tutorial.login": lambda world: {"tenant": "acme", "username": "owner", "password": PASSWORD},
    "auth.change_password": lambda world: {
        "current_password": PASSWORD,
        "new_password": "a-brand-new-long-password",
    },
}
