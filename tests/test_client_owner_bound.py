"""Review finding 1: an integration client never holds more than its owner holds now.

Alice, an admin, makes a client with her power; then she is demoted, a role of hers is
edited, she is deactivated or deleted. Her client's tokens already issued fail on their
next request, and its next token carries only what she still holds (nothing at all once
she is deactivated or deleted, until an admin re-owns the client).
"""

from __future__ import annotations

import uuid

import pytest

from policies import BUILTIN_ROLE_PERMISSIONS, TENANT_PERMISSIONS, BuiltinRole
from tests import bulk
from tests.conftest import bearer
from tests.factories import RoleFactory, TenantFactory, UserFactory

SCOPES = sorted(TENANT_PERMISSIONS)  # all her power
MEMBER = " ".join(sorted(BUILTIN_ROLE_PERMISSIONS[BuiltinRole.MEMBER]))


@pytest.fixture
def boss(acme):
    return UserFactory(tenant=acme, roles=["admin"], username="boss")


@pytest.fixture
def alice(acme):
    return UserFactory(tenant=acme, roles=["admin"], username="alice")


@pytest.fixture
def integration(client, acme, alice, auth_headers):
    """Alice's client, made through the API with her power: its id and secret."""
    response = client.post(
        f"/tenants/{acme.id}/clients", json={"name": "Sync", "scopes": SCOPES}, headers=auth_headers(alice)
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def token_of(client, integration):
    return client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": integration["client_id"],
            "client_secret": integration["client_secret"],
        },
    )


def create_admin(client, acme, token):
    return client.post(
        f"/tenants/{acme.id}/users",
        json={
            "username": f"mallory-{uuid.uuid4().hex[:6]}",
            "password": "quartz-lantern-meadow-47",
            "roles": ["admin"],
        },
        headers=bearer(token),
    )


def test_the_client_shows_its_owner_everywhere(client, acme, alice, boss, integration, auth_headers):
    listed = client.get(f"/tenants/{acme.id}/clients", headers=auth_headers(boss)).get_json()["items"]

    assert integration["created_by"] == str(alice.id)
    assert [c["created_by"] for c in listed] == [str(alice.id)]


def test_an_admin_owners_client_creates_admins_at_first(client, acme, integration):
    token = token_of(client, integration).get_json()

    assert token["scope"] == " ".join(SCOPES)
    assert create_admin(client, acme, token["access_token"]).status_code == 201


def test_demoting_the_owner_shrinks_the_client_at_once(client, acme, alice, boss, integration, auth_headers):
    old = token_of(client, integration).get_json()["access_token"]

    demoted = client.put(
        f"/tenants/{acme.id}/users/{alice.id}/roles", json={"roles": ["member"]}, headers=auth_headers(boss)
    )
    reused = create_admin(client, acme, old)
    new = token_of(client, integration).get_json()

    assert demoted.status_code == 200
    assert (reused.status_code, reused.get_json()["code"]) == (401, "token_revoked")
    assert new["scope"] == MEMBER  # what a member still holds of the scopes
    denied = create_admin(client, acme, new["access_token"])
    assert denied.status_code == 403
    assert denied.get_json()["required_permissions"] == ["users:write"]


def test_a_narrower_scope_than_the_owner_holds_is_refused(
    client, acme, alice, boss, integration, auth_headers
):
    client.put(
        f"/tenants/{acme.id}/users/{alice.id}/roles", json={"roles": ["member"]}, headers=auth_headers(boss)
    )

    response = client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": integration["client_id"],
            "client_secret": integration["client_secret"],
            "scope": "users:write",
        },
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"


def test_editing_a_role_of_the_owner_shrinks_the_client(client, acme, boss, auth_headers):
    people = RoleFactory(
        tenant=acme, name="people", permissions=["users:read", "users:write", "clients:write"]
    )
    carol = UserFactory(tenant=acme, roles=["member", people.name])
    made = client.post(
        f"/tenants/{acme.id}/clients",
        json={"name": "HR sync", "scopes": ["users:read", "users:write"]},
        headers=auth_headers(carol),
    ).get_json()
    old = token_of(client, made).get_json()["access_token"]

    edited = client.patch(
        f"/tenants/{acme.id}/roles/{people.id}",
        json={"permissions": ["users:read", "clients:write"]},
        headers=auth_headers(boss),
    )
    reused = client.get(f"/tenants/{acme.id}/users", headers=bearer(old))
    new = token_of(client, made).get_json()

    assert edited.status_code == 200
    assert reused.status_code == 401
    assert new["scope"] == "users:read"
    assert create_admin(client, acme, new["access_token"]).status_code == 403


def test_deleting_a_role_of_the_owner_shrinks_the_client(client, acme, boss, auth_headers):
    people = RoleFactory(tenant=acme, name="people", permissions=["users:write", "clients:write"])
    carol = UserFactory(tenant=acme, roles=["member", people.name])
    made = client.post(
        f"/tenants/{acme.id}/clients",
        json={"name": "HR", "scopes": ["users:write"]},
        headers=auth_headers(carol),
    ).get_json()
    old = token_of(client, made).get_json()["access_token"]

    client.delete(f"/tenants/{acme.id}/roles/{people.id}", headers=auth_headers(boss))

    assert create_admin(client, acme, old).status_code == 401
    assert token_of(client, made).get_json()["scope"] == ""


def test_a_deactivated_owner_leaves_the_client_nothing_even_after_reactivation(
    client, acme, alice, boss, integration, auth_headers
):
    old = token_of(client, integration).get_json()["access_token"]
    url = f"/tenants/{acme.id}/users/{alice.id}"

    client.patch(url, json={"is_active": False}, headers=auth_headers(boss))
    reused = create_admin(client, acme, old)
    refused = token_of(client, integration)
    client.patch(url, json={"is_active": True}, headers=auth_headers(boss))
    after_reactivation = create_admin(client, acme, old)

    assert reused.status_code == 401
    assert (refused.status_code, refused.get_json()["error"]) == (400, "unauthorized_client")
    assert after_reactivation.status_code == 401  # reactivating the owner revives no old token
    assert token_of(client, integration).status_code == 200  # her client serves her again


def test_a_deleted_owner_leaves_the_client_nothing_until_it_is_re_owned(
    client, acme, alice, boss, integration, auth_headers
):
    old = token_of(client, integration).get_json()["access_token"]
    headers = auth_headers(boss)

    client.delete(f"/tenants/{acme.id}/users/{alice.id}", headers=headers)
    reused = create_admin(client, acme, old)
    refused = token_of(client, integration)
    (orphan,) = client.get(f"/tenants/{acme.id}/clients", headers=headers).get_json()["items"]
    re_owned = client.patch(
        f"/tenants/{acme.id}/clients/{integration['id']}", json={"owner_id": str(boss.id)}, headers=headers
    )
    revived = token_of(client, integration).get_json()

    assert reused.status_code == 401
    assert refused.status_code == 400
    assert orphan["created_by"] is None
    assert re_owned.status_code == 200
    assert re_owned.get_json()["created_by"] == str(boss.id)
    assert revived["scope"] == " ".join(SCOPES)
    assert create_admin(client, acme, revived["access_token"]).status_code == 201


def test_re_owning_to_a_member_bounds_the_client_by_the_member(client, acme, boss, integration, auth_headers):
    old = token_of(client, integration).get_json()["access_token"]
    bob = UserFactory(tenant=acme, roles=["member"])

    response = client.patch(
        f"/tenants/{acme.id}/clients/{integration['id']}",
        json={"owner_id": str(bob.id)},
        headers=auth_headers(boss),
    )

    assert response.status_code == 200
    assert create_admin(client, acme, old).status_code == 401
    assert token_of(client, integration).get_json()["scope"] == MEMBER


def test_re_owning_needs_every_scope_of_the_client(client, acme, integration, auth_headers):
    keeper = RoleFactory(tenant=acme, name="keeper", permissions=["clients:write", "users:read"])
    weak = UserFactory(tenant=acme, roles=["member", keeper.name])

    response = client.patch(
        f"/tenants/{acme.id}/clients/{integration['id']}",
        json={"owner_id": str(weak.id)},
        headers=auth_headers(weak),
    )

    assert response.status_code == 403
    held = {"clients:write", "users:read"} | set(MEMBER.split())
    assert response.get_json()["required_permissions"] == sorted(set(SCOPES) - held)
    assert response.get_json()["decision_id"]


@pytest.mark.parametrize("who", ["inactive", "foreign", "unknown"])
def test_the_new_owner_is_an_active_user_of_the_tenant(client, acme, boss, integration, auth_headers, who):
    owners = {
        "inactive": lambda: UserFactory(tenant=acme, is_active=False).id,
        "foreign": lambda: UserFactory(tenant=TenantFactory(), roles=["admin"]).id,
        "unknown": uuid.uuid4,
    }

    response = client.patch(
        f"/tenants/{acme.id}/clients/{integration['id']}",
        json={"owner_id": str(owners[who]())},
        headers=auth_headers(boss),
    )

    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {"field": "owner_id", "message": "is not an active user of this tenant"}
    ]


def test_a_client_made_by_a_client_is_owned_by_that_clients_owner(client, acme, alice, boss, auth_headers):
    parent = client.post(
        f"/tenants/{acme.id}/clients",
        json={"name": "Provisioner", "scopes": ["clients:write", "projects:read"]},
        headers=auth_headers(alice),
    ).get_json()
    token = token_of(client, parent).get_json()["access_token"]

    child = client.post(
        f"/tenants/{acme.id}/clients",
        json={"name": "Child", "scopes": ["projects:read"]},
        headers=bearer(token),
    ).get_json()
    client.delete(f"/tenants/{acme.id}/users/{alice.id}", headers=auth_headers(boss))

    assert child["created_by"] == str(alice.id)
    assert token_of(client, child).status_code == 400  # its owner is gone, as for its parent


def test_a_client_token_costs_the_same_queries_as_a_user_token(client, db, acme, integration, count_queries):
    token = token_of(client, integration).get_json()["access_token"]
    url = f"/tenants/{acme.id}/users?limit=5"
    client.get(url, headers=bearer(token))  # the first request loads the state (and last_used_at)

    with count_queries.counting():
        response = client.get(url, headers=bearer(token))

    assert response.status_code == 200
    # The revocation epoch, then the page and its roles: the owner costs no query per request.
    assert count_queries.count == 3, count_queries.statements


def test_issuing_costs_constant_queries_as_the_owner_gains_roles(
    client, db, acme, alice, integration, count_queries
):
    with count_queries.counting():
        assert token_of(client, integration).status_code == 200
    small = count_queries.count
    bulk.roles(db, acme, 300, permissions=["users:read"], holder=alice)
    db.flush()
    with count_queries.counting():
        assert token_of(client, integration).status_code == 200

    assert count_queries.count == small


def test_an_application_permission_taken_from_members_leaves_their_clients_and_tokens_at_once(
    client, acme, boss, operator, auth_headers, login
):
    # Turning `member` off edits the built-in member role: every member loses the permission,
    # and so does every client a member owns, for tokens already issued too.
    platform = auth_headers(operator)
    client.post(
        "/permissions",
        json={"name": "reports:read", "description": "Reports", "member": True},
        headers=platform,
    )
    carol = UserFactory(tenant=acme, roles=["member"])
    made = client.post(
        f"/tenants/{acme.id}/clients",
        json={"name": "Reports", "scopes": ["projects:read", "reports:read"]},
        headers=auth_headers(boss),
    ).get_json()
    client.patch(
        f"/tenants/{acme.id}/clients/{made['id']}",
        json={"owner_id": str(carol.id)},
        headers=auth_headers(boss),
    )
    hers = login(carol)["access_token"]
    its = token_of(client, made).get_json()

    flipped = client.patch("/permissions/reports:read", json={"member": False}, headers=platform)
    her_old = client.get("/auth/me", headers=bearer(hers))
    its_old = client.get("/auth/me", headers=bearer(its["access_token"]))

    assert its["scope"] == "projects:read reports:read"
    assert flipped.status_code == 200
    assert (her_old.status_code, her_old.get_json()["code"]) == (401, "token_revoked")
    assert (its_old.status_code, its_old.get_json()["code"]) == (401, "token_revoked")
    assert token_of(client, made).get_json()["scope"] == "projects:read"
    assert "reports:read" not in client.get("/auth/me", headers=auth_headers(carol)).get_json()["permissions"]
