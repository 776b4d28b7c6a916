"""RFC 7662 introspection at POST /auth/introspect, revocation-aware and tenant-isolated."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import bearer
from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory, TenantFactory, UserFactory


@pytest.fixture
def acme(db):
    return TenantFactory(slug="acme")


def basic(client_row):
    raw = f"{client_row.client_id}:{DEFAULT_CLIENT_SECRET}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def introspector(tenant, **kwargs):
    """A client allowed to introspect its tenant's tokens."""
    return ClientFactory(tenant=tenant, scopes=["tokens:introspect"], **kwargs)


def introspect(client, token, headers):
    return client.post("/auth/introspect", data={"token": token}, headers=headers)


def test_a_client_sees_an_active_token_of_its_tenant(client, acme, login):
    user = UserFactory(tenant=acme, roles=["member"])
    token = login(user)["access_token"]

    response = introspect(client, token, basic(introspector(acme)))

    body = response.get_json()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["active"] is True
    assert body["sub"] == str(user.id)
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "projects:read projects:write roles:read tenant:read users:read"
    assert body["tenant_id"] == str(acme.id)


def test_another_tenants_token_is_simply_inactive(client, acme, login):
    foreign_token = login(UserFactory(tenant=TenantFactory()))["access_token"]

    body = introspect(client, foreign_token, basic(introspector(acme))).get_json()

    assert body == {"active": False}


def test_a_revoked_token_is_inactive_at_once(client, acme, login):
    tokens = login(UserFactory(tenant=acme))
    client.post("/auth/logout", headers=bearer(tokens["access_token"]))

    body = introspect(client, tokens["access_token"], basic(introspector(acme))).get_json()

    assert body == {"active": False}


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""], ids=["garbage", "three dots", "empty"])
def test_anything_that_does_not_verify_is_inactive_or_refused(client, acme, token):
    response = introspect(client, token, basic(introspector(acme)))

    if token:
        assert response.get_json() == {"active": False}
    else:
        assert response.status_code == 400
        assert response.get_json()["error"] == "invalid_request"


def test_a_platform_operator_sees_every_tenant(client, login):
    operator = UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"])
    token = login(UserFactory(tenant=TenantFactory()))["access_token"]

    body = introspect(client, token, bearer(login(operator)["access_token"])).get_json()

    assert body["active"] is True


def test_a_member_token_may_not_introspect(client, acme, login):
    member = UserFactory(tenant=acme, roles=["member"])
    headers = bearer(login(member)["access_token"])

    response = introspect(client, login(member)["access_token"], headers)

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["platform:read"]


def test_an_unauthenticated_caller_is_refused(client):
    response = introspect(client, "whatever", {})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_a_wrong_client_secret_is_refused(client, acme):
    row = introspector(acme)
    raw = f"{row.client_id}:wrong-secret".encode()

    response = introspect(client, "whatever", {"Authorization": "Basic " + base64.b64encode(raw).decode()})

    assert response.status_code == 401


def test_a_client_token_introspects_with_its_client_id(client, acme):
    row = ClientFactory(tenant=acme, scopes=["projects:read", "tokens:introspect"])
    issued = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "projects:read"},
        headers=basic(row),
    ).get_json()

    body = introspect(client, issued["access_token"], basic(row)).get_json()

    assert body["active"] is True
    assert body["client_id"] == row.client_id
    assert body["scope"] == "projects:read"
