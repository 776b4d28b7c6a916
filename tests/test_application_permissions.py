"""Application permissions: the catalog as data, built-in roles derived from it, removal
taking effect at once, the TOML apply command, and tokens kept under 8 KiB."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from models import ApplicationPermission, Client, RolePermission
from tests.conftest import bearer
from tests.factories import (
    DEFAULT_CLIENT_SECRET,
    ApplicationPermissionFactory,
    ClientFactory,
    RoleFactory,
    UserFactory,
)


@pytest.fixture
def operator_headers(platform, auth_headers):
    return auth_headers(UserFactory(tenant=platform, roles=["platform-admin"]))


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def me(client, headers) -> dict:
    response = client.get("/auth/me", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# ------------------------------------------------------------------------------- the API


def test_a_platform_operator_defines_an_application_permission(client, operator_headers):
    body = {"name": "invoices:approve", "description": "Approve an invoice.", "member": False}

    created = client.post("/permissions", json=body, headers=operator_headers)
    listed = client.get("/permissions?limit=100", headers=operator_headers).get_json()["items"]

    assert created.status_code == 201, created.get_json()
    assert created.get_json() == {
        "name": "invoices:approve",
        "description": "Approve an invoice.",
        "builtin": False,
        "platform_only": False,
        "owner_override": None,
        "member": False,
    }
    names = [i["name"] for i in listed]
    assert "invoices:approve" in names
    assert "tenant:read" in names
    assert names == sorted(names)


def test_the_catalog_is_paginated_across_built_in_and_application_permissions(client, db, operator_headers):
    for i in range(5):
        ApplicationPermissionFactory(name=f"zeta{i}:run")
    seen, cursor = [], None
    while True:
        url = "/permissions?limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=operator_headers).get_json()
        seen += [i["name"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    assert {f"zeta{i}:run" for i in range(5)} <= set(seen)
    assert client.get("/permissions?cursor=bm90LWEtbmFtZQ", headers=operator_headers).status_code == 400


def test_only_platform_write_defines_permissions(client, acme, auth_headers):
    admin = UserFactory(tenant=acme, roles=["admin"])

    response = client.post("/permissions", json={"name": "invoices:approve"}, headers=auth_headers(admin))

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["platform:write"]


@pytest.mark.parametrize(
    "name",
    ["invoices", "Invoices:approve", "platform:anything", "invoices:", ":approve", "a:b c", "x" * 64 + ":a"],
)
def test_malformed_or_platform_names_are_refused(client, operator_headers, name):
    response = client.post("/permissions", json={"name": name}, headers=operator_headers)

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "name"


def test_built_in_permissions_answer_409(client, operator_headers):
    assert (
        client.post("/permissions", json={"name": "tenant:read"}, headers=operator_headers).status_code == 409
    )
    assert (
        client.patch("/permissions/tenant:read", json={"member": True}, headers=operator_headers).status_code
        == 409
    )
    assert client.delete("/permissions/tenant:read", headers=operator_headers).status_code == 409


def test_defining_twice_is_a_409_and_a_missing_one_a_404(client, db, operator_headers):
    ApplicationPermissionFactory(name="invoices:approve")

    assert (
        client.post("/permissions", json={"name": "invoices:approve"}, headers=operator_headers).status_code
        == 409
    )
    assert client.delete("/permissions/invoices:void", headers=operator_headers).status_code == 404


def test_owner_override_must_name_another_permission(client, db, operator_headers):
    bad = client.post(
        "/permissions",
        json={"name": "invoices:edit", "owner_override": "invoices:nothing"},
        headers=operator_headers,
    )
    ApplicationPermissionFactory(name="invoices:manage")
    good = client.post(
        "/permissions",
        json={"name": "invoices:edit", "owner_override": "invoices:manage"},
        headers=operator_headers,
    )
    patched = client.patch(
        "/permissions/invoices:edit", json={"owner_override": None}, headers=operator_headers
    )

    assert bad.status_code == 422
    assert good.status_code == 201
    assert good.get_json()["owner_override"] == "invoices:manage"
    assert patched.status_code == 200
    assert patched.get_json()["owner_override"] is None


# ------------------------------------------------------------------ derived built-in roles


def test_admin_of_an_existing_tenant_holds_a_permission_defined_later(client, acme, login):
    admin = UserFactory(tenant=acme, roles=["admin"])
    before = claims_of(login(admin)["access_token"])["permissions"]
    ApplicationPermissionFactory(name="invoices:approve")

    after = claims_of(login(admin)["access_token"])["permissions"]

    assert "invoices:approve" not in before
    assert "invoices:approve" in after
    assert "platform:write" not in after


def test_member_holds_only_application_permissions_marked_member(client, acme, login):
    ApplicationPermissionFactory(name="invoices:read", member=True)
    ApplicationPermissionFactory(name="invoices:approve")
    member = UserFactory(tenant=acme, roles=["member"])

    permissions = claims_of(login(member)["access_token"])["permissions"]

    assert "invoices:read" in permissions
    assert "invoices:approve" not in permissions


def test_the_built_in_roles_show_their_derived_permissions(client, acme, auth_headers):
    ApplicationPermissionFactory(name="invoices:approve")
    admin = UserFactory(tenant=acme, roles=["admin"])

    roles = client.get(f"/tenants/{acme.id}/roles", headers=auth_headers(admin)).get_json()["items"]

    by_name = {r["name"]: r["permissions"] for r in roles}
    assert "invoices:approve" in by_name["admin"]
    assert "decisions:evaluate" in by_name["admin"]
    assert "invoices:approve" not in by_name["member"]


def test_platform_admin_holds_application_permissions_too(platform, login):
    ApplicationPermissionFactory(name="invoices:approve")
    operator = UserFactory(tenant=platform, roles=["platform-admin"])

    permissions = claims_of(login(operator)["access_token"])["permissions"]

    assert {"invoices:approve", "platform:read", "platform:write"} <= set(permissions)


# --------------------------------------------------------------- granting through roles


def test_an_admin_grants_an_application_permission_through_a_custom_role(client, acme, auth_headers, login):
    ApplicationPermissionFactory(name="invoices:approve")
    admin = UserFactory(tenant=acme, roles=["admin"])
    bob = UserFactory(tenant=acme, roles=["member"])
    headers = auth_headers(admin)

    role = client.post(
        f"/tenants/{acme.id}/roles",
        json={"name": "approver", "description": "", "permissions": ["invoices:approve"]},
        headers=headers,
    )
    assigned = client.put(
        f"/tenants/{acme.id}/users/{bob.id}/roles", json={"roles": ["member", "approver"]}, headers=headers
    )

    assert role.status_code == 201, role.get_json()
    assert assigned.status_code == 200, assigned.get_json()
    assert "invoices:approve" in claims_of(login(bob)["access_token"])["permissions"]


def test_an_undefined_application_permission_cannot_be_granted(client, acme, auth_headers):
    admin = UserFactory(tenant=acme, roles=["admin"])

    response = client.post(
        f"/tenants/{acme.id}/roles",
        json={"name": "approver", "description": "", "permissions": ["invoices:approve"]},
        headers=auth_headers(admin),
    )

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "permissions"


def test_nobody_grants_an_application_permission_they_do_not_hold(client, acme, auth_headers):
    ApplicationPermissionFactory(name="invoices:approve")
    RoleFactory(tenant=acme, name="role-admin", permissions=["roles:write", "roles:read"])
    manager = UserFactory(tenant=acme, roles=["role-admin"])

    response = client.post(
        f"/tenants/{acme.id}/roles",
        json={"name": "approver", "description": "", "permissions": ["invoices:approve"]},
        headers=auth_headers(manager),
    )

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["invoices:approve"]


# ------------------------------------------------------------------------------ removal


def test_removing_a_permission_takes_it_from_roles_clients_and_tokens_at_once(
    client, db, acme, operator_headers, login
):
    ApplicationPermissionFactory(name="invoices:approve")
    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve", "projects:read"])
    bob = UserFactory(tenant=acme, roles=["approver"])
    integration = ClientFactory(tenant=acme, scopes=["invoices:approve", "projects:read"])
    bob_headers = bearer(login(bob)["access_token"])
    assert "invoices:approve" in me(client, bob_headers)["permissions"]  # its state is cached now

    response = client.delete("/permissions/invoices:approve", headers=operator_headers)

    assert response.status_code == 204
    assert me(client, bob_headers)["permissions"] == ["projects:read"]  # the very next request
    assert (
        db.scalars(select(RolePermission).where(RolePermission.permission == "invoices:approve")).all() == []
    )
    db.expire_all()
    assert db.get(Client, integration.id).scopes == ["projects:read"]
    assert db.get(ApplicationPermission, "invoices:approve") is None


def test_a_permission_that_is_another_ones_override_cannot_be_removed(client, db, operator_headers):
    ApplicationPermissionFactory(name="invoices:manage")
    ApplicationPermissionFactory(name="invoices:edit", owner_override="invoices:manage")

    assert client.delete("/permissions/invoices:manage", headers=operator_headers).status_code == 409


def test_changes_are_audited(client, db, operator_headers):
    from models import AuditEvent

    client.post("/permissions", json={"name": "invoices:approve"}, headers=operator_headers)
    client.patch("/permissions/invoices:approve", json={"description": "Approve."}, headers=operator_headers)
    client.delete("/permissions/invoices:approve", headers=operator_headers)

    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "permission")).all()
    assert sorted(actions) == ["permission.created", "permission.deleted", "permission.updated"]


# ------------------------------------------------------------------- token size


def test_tokens_stay_under_8_kib_whatever_the_roles(client, db, acme, login, auth_headers):
    names = [f"{'r' * 60}{i:02d}:{'a' * 60}" for i in range(60)]
    for name in names:
        ApplicationPermissionFactory(name=name)
    for i in range(40):
        RoleFactory(tenant=acme, name=f"{'role' * 15}{i:03d}", permissions=names[i : i + 20])
    bob = UserFactory(tenant=acme, roles=[f"{'role' * 15}{i:03d}" for i in range(40)] + ["member"])

    tokens = login(bob)
    claims = claims_of(tokens["access_token"])

    assert len(tokens["access_token"]) < 8192
    assert len(tokens["refresh_token"]) < 8192
    assert claims["authz_partial"] is True
    assert "projects:read" in claims["permissions"]  # built-in ones are always carried
    assert not set(names) & set(claims["permissions"])
    assert claims["roles"] == ["member"]
    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_a_clients_token_stays_under_8_kib_with_scopes_that_fit_the_claim_budget(client, db, acme):
    # Each name is 127 characters (the longest the catalog takes): 30 of them fit the 4 KiB
    # budget of `permissions`, but a client's token carries them twice (`permissions` and
    # the RFC 9068 `scope`), and the token reached 11 KiB.
    names = [f"{'r' * 61}{i:02d}:{'a' * 63}" for i in range(30)]
    for name in names:
        ApplicationPermissionFactory(name=name)
    integration = ClientFactory(tenant=acme, scopes=names)
    db.flush()

    response = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(integration.client_id, DEFAULT_CLIENT_SECRET),
    )

    assert response.status_code == 200, response.get_json()
    token = response.get_json()["access_token"]
    assert len(token) < 8192
    claims = claims_of(token)
    assert claims["authz_partial"] is True  # the decision API answers for what was left out
    assert claims["scope"].split() == claims["permissions"]


def test_a_token_that_fits_carries_everything_and_no_marker(acme, login):
    ApplicationPermissionFactory(name="invoices:approve")
    claims = claims_of(login(UserFactory(tenant=acme, roles=["admin"]))["access_token"])

    assert "authz_partial" not in claims
    assert "invoices:approve" in claims["permissions"]


# ------------------------------------------------------------------- the apply command

DEFINITIONS = """
[permissions."invoices:approve"]
description = "Approve an invoice."
owner_override = "invoices:manage"

[permissions."invoices:manage"]
description = "Approve any invoice."

[permissions."invoices:read"]
member = true
"""


def apply(app, tmp_path, text: str, *args: str):
    path = tmp_path / "permissions.toml"
    path.write_text(text)
    return app.test_cli_runner().invoke(args=["permissions", "apply", str(path), *args])


def test_apply_creates_then_changes_nothing(app, db, tmp_path):
    first = apply(app, tmp_path, DEFINITIONS)
    second = apply(app, tmp_path, DEFINITIONS)

    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [
        "created invoices:approve",
        "created invoices:manage",
        "created invoices:read",
    ]
    assert second.output.strip() == "nothing changed"
    row = db.get(ApplicationPermission, "invoices:approve")
    assert (row.owner_override, db.get(ApplicationPermission, "invoices:read").member) == (
        "invoices:manage",
        True,
    )


def test_apply_updates_and_prunes_only_when_asked(app, db, tmp_path):
    apply(app, tmp_path, DEFINITIONS)
    ApplicationPermissionFactory(name="reports:export")
    changed = DEFINITIONS.replace('description = "Approve an invoice."', 'description = "Approve it."')

    kept = apply(app, tmp_path, changed)
    pruned = apply(app, tmp_path, changed, "--prune")

    assert kept.output.splitlines() == ["updated invoices:approve"]
    assert pruned.output.splitlines() == ["deleted reports:export"]
    assert db.get(ApplicationPermission, "reports:export") is None


@pytest.mark.parametrize(
    "text",
    [
        "not toml [",
        '[permissions."Invoices:x"]\n',
        '[permissions."platform:x"]\n',
        '[permissions."a:b"]\nunknown = 1\n',
        '[permissions."a:b"]\nowner_override = "a:c"\n',
        "[other]\n",
    ],
)
def test_apply_refuses_a_bad_file_and_changes_nothing(app, db, tmp_path, text):
    result = apply(app, tmp_path, text)

    assert result.exit_code == 2
    assert db.scalars(select(ApplicationPermission)).all() == []


def test_server_metadata_lists_application_permissions_as_scopes(client):
    ApplicationPermissionFactory(name="invoices:approve")

    metadata = client.get("/.well-known/oauth-authorization-server").get_json()

    assert "invoices:approve" in metadata["scopes_supported"]
    assert "platform:read" not in metadata["scopes_supported"]


def test_prune_removes_a_permission_and_the_one_it_overrides_whatever_their_names(app, db, tmp_path):
    # `a:manage` sorts before `b:approve`, whose owner_override it is: removed first, it was
    # refused (409) half-way through the prune.
    ApplicationPermissionFactory(name="a:manage")
    ApplicationPermissionFactory(name="b:approve", owner_override="a:manage")
    ApplicationPermissionFactory(name="c:approve", owner_override="b:approve")

    result = apply(app, tmp_path, DEFINITIONS, "--prune")

    assert result.exit_code == 0, result.output
    assert sorted(result.output.splitlines()) == [
        "created invoices:approve",
        "created invoices:manage",
        "created invoices:read",
        "deleted a:manage",
        "deleted b:approve",
        "deleted c:approve",
    ]
    db.expire_all()
    assert sorted(db.scalars(select(ApplicationPermission.name)).all()) == [
        "invoices:approve",
        "invoices:manage",
        "invoices:read",
    ]


def test_prune_removes_permissions_that_are_each_others_override(app, db, tmp_path):
    # PATCH allows a cycle (a overrides b, b overrides a); neither could then be removed first.
    ApplicationPermissionFactory(name="cyc:a")
    ApplicationPermissionFactory(name="cyc:b", owner_override="cyc:a")
    db.get(ApplicationPermission, "cyc:a").owner_override = "cyc:b"
    db.flush()

    result = apply(app, tmp_path, DEFINITIONS, "--prune")

    assert result.exit_code == 0, result.output
    assert {"deleted cyc:a", "deleted cyc:b"} <= set(result.output.splitlines())
    db.expire_all()
    assert db.get(ApplicationPermission, "cyc:a") is None
    assert db.get(ApplicationPermission, "cyc:b") is None
