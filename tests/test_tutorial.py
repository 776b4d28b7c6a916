"""The tutorial this service grew from, replayed against a single-tenant deployment.

Its client logs in with only a username and password at POST /login, reads
`access_token`, and calls GET /protected with it (AUTHZ_DEFAULT_TENANT names the tenant).
"""

from tests.conftest import PASSWORD
from tests.factories import TenantFactory, UserFactory


def test_tutorial_flow_works_with_a_default_tenant(make_client, make_settings, db):
    acme = TenantFactory(slug="acme")
    UserFactory(tenant=acme, username="test", roles=["member"])
    api = make_client(make_settings(default_tenant="acme"))

    login = api.post("/login", json={"username": "test", "password": PASSWORD})
    access_token = login.get_json()["access_token"]
    protected = api.get("/protected", headers={"Authorization": f"Bearer {access_token}"})

    assert login.status_code == 200
    assert protected.status_code == 200
    assert protected.get_json() == {"logged_in_as": "test"}


def test_tutorial_login_also_works_on_the_contract_route(make_client, make_settings, db):
    acme = TenantFactory(slug="acme")
    UserFactory(tenant=acme, username="test", roles=["member"])
    api = make_client(make_settings(default_tenant="acme"))

    response = api.post("/auth/login", json={"username": "test", "password": PASSWORD})

    assert response.status_code == 200


def test_protected_route_without_a_token_is_401(client):
    response = client.get("/protected")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
