"""Review finding 4: nobody revokes, rotates or edits a client holding more than they do
(403 naming the missing permissions, audited); and PATCH's own rules (narrow only, a new
owner of the tenant, older tokens ended)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from models import AuditEvent, Client
from tests.conftest import bearer
from tests.factories import RoleFactory, TenantFactory, UserFactory


@pytest.fixture
def carol(acme):
    """Holds clients:write but not users:write."""
    integrator = RoleFactory(tenant=acme, name="integrator", permissions=["clients:write", "projects:read"])
    return UserFactory(tenant=acme, roles=[integrator.name])


@pytest.fixture
def strong(client, acme, admin, auth_headers):
    body = {"name": "Provisioning", "scopes": ["projects:read", "users:write"]}
    return client.post(f"/tenants/{acme.id}/clients", json=body, headers=auth_headers(admin)).get_json()


def url(acme, made, suffix=""):
    return f"/tenants/{acme.id}/clients/{made['id']}{suffix}"


def token_of(client, made):
    return client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        },
    ).get_json()


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [("DELETE", "", None), ("POST", "/secret", None), ("PATCH", "", {"name": "Mine now"})],
    ids=["revoke", "rotate", "edit"],
)
def test_a_weaker_holder_of_clients_write_cannot_touch_a_stronger_client(
    client, db, acme, carol, strong, auth_headers, method, suffix, body
):
    response = client.open(url(acme, strong, suffix), method=method, json=body, headers=auth_headers(carol))

    assert response.status_code == 403
    problem = response.get_json()
    assert problem["required_permissions"] == ["users:write"]
    assert "users:write" in problem["detail"]
    event = db.get(AuditEvent, uuid.UUID(problem["decision_id"]))
    assert event.action == "access.denied"
    stored = db.scalars(select(Client).where(Client.client_id == strong["client_id"])).one()
    db.refresh(stored)
    assert (stored.revoked_at, stored.authz_version, stored.name) == (None, 1, "Provisioning")


def test_a_holder_of_every_scope_revokes_it(client, acme, admin, carol, auth_headers):
    mine = client.post(
        f"/tenants/{acme.id}/clients",
        json={"name": "Small", "scopes": ["projects:read"]},
        headers=auth_headers(admin),
    ).get_json()

    assert client.delete(url(acme, mine), headers=auth_headers(carol)).status_code == 204


def test_renaming_keeps_the_tokens_and_is_audited(client, db, acme, admin, strong, auth_headers):
    token = token_of(client, strong)["access_token"]

    response = client.patch(url(acme, strong), json={"name": "Renamed"}, headers=auth_headers(admin))

    assert response.status_code == 200
    assert response.get_json()["name"] == "Renamed"
    assert "client_secret" not in response.get_json()
    assert client.get(f"/tenants/{acme.id}/projects", headers=bearer(token)).status_code == 200
    (event,) = db.scalars(select(AuditEvent).where(AuditEvent.action == "client.updated")).all()
    assert event.details == {
        "client_id": strong["client_id"],
        "name": {"from": "Provisioning", "to": "Renamed"},
    }


def test_narrowing_the_scopes_ends_the_older_tokens(client, acme, admin, strong, auth_headers):
    old = token_of(client, strong)["access_token"]

    response = client.patch(
        url(acme, strong), json={"scopes": ["projects:read"]}, headers=auth_headers(admin)
    )

    assert response.get_json()["scopes"] == ["projects:read"]
    assert client.get(f"/tenants/{acme.id}/projects", headers=bearer(old)).status_code == 401
    assert token_of(client, strong)["scope"] == "projects:read"


def test_scopes_only_narrow(client, acme, admin, strong, auth_headers):
    response = client.patch(
        url(acme, strong), json={"scopes": ["projects:read", "audit:read"]}, headers=auth_headers(admin)
    )

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "scopes"


@pytest.mark.parametrize(
    "body",
    [{}, {"name": None}, {"owner_id": None}, {"scopes": None}, {"owner_id": "nope"}, {"secret_hash": "0"}],
)
def test_invalid_edits_are_422(client, acme, admin, strong, auth_headers, body):
    response = client.patch(url(acme, strong), json=body, headers=auth_headers(admin))

    assert response.status_code == 422


def test_a_revoked_client_cannot_be_edited(client, acme, admin, strong, auth_headers):
    headers = auth_headers(admin)
    client.delete(url(acme, strong), headers=headers)

    response = client.patch(url(acme, strong), json={"name": "Back"}, headers=headers)

    assert response.status_code == 409


def test_another_tenants_client_is_a_404(client, acme, strong):
    globex_admin = UserFactory(tenant=TenantFactory(slug="globex"), roles=["admin"])
    login = client.post(
        "/auth/login",
        json={
            "tenant": "globex",
            "username": globex_admin.username,
            "password": "a-long-enough-test-password",
        },
    ).get_json()
    globex_id = globex_admin.tenant_id

    response = client.patch(
        f"/tenants/{globex_id}/clients/{strong['id']}",
        json={"name": "x"},
        headers=bearer(login["access_token"]),
    )

    assert response.status_code == 404
