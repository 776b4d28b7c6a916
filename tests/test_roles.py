"""Custom roles: who may manage them, what they may carry, and what a change does to holders."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.provisioning import builtin_role, create_tenant, create_user
from app.roles import service
from app.services import services
from models import AuditEvent, Role, RolePermission, User, UserRole
from policies import BUILTIN_ROLE_PERMISSIONS, BuiltinRole, Permission
from tests import bulk
from tests.conftest import PASSWORD, bearer
from tests.factories import RoleFactory, TenantFactory, UserFactory
from tests.principals import principal_for

ROLE_FIELDS = {"id", "name", "description", "permissions", "builtin", "created_at"}


@pytest.fixture
def as_admin(admin, auth_headers):
    return auth_headers(admin)


@pytest.fixture
def reviewer(acme):
    return RoleFactory(tenant=acme, name="reviewer", permissions=[Permission.PROJECTS_READ])


@pytest.fixture
def role_manager(acme):
    """May manage roles, but holds little else: the escalation guard's subject."""
    RoleFactory(
        tenant=acme,
        name="role-manager",
        permissions=[Permission.ROLES_READ, Permission.ROLES_WRITE, Permission.PROJECTS_READ],
    )
    return UserFactory(tenant=acme, username="rory", roles=["role-manager"])


def roles_url(tenant):
    return f"/tenants/{tenant.id}/roles"


def role_url(tenant, role_id):
    return f"/tenants/{tenant.id}/roles/{role_id}"


def permissions_of(db, role_id):
    return sorted(db.scalars(select(RolePermission.permission).where(RolePermission.role_id == role_id)))


def audit_events(db, action):
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# Allow and deny


def test_admin_creates_a_custom_role(client, acme, as_admin):
    body = {
        "name": "auditor",
        "description": "Reads the log.",
        "permissions": ["projects:read", "audit:read"],
    }

    response = client.post(roles_url(acme), json=body, headers=as_admin)

    assert response.status_code == 201
    role = response.get_json()
    assert set(role) == ROLE_FIELDS
    assert role["name"] == "auditor"
    assert role["description"] == "Reads the log."
    assert role["permissions"] == ["audit:read", "projects:read"]
    assert role["builtin"] is False


def test_description_defaults_to_empty(client, acme, as_admin):
    response = client.post(roles_url(acme), json={"name": "auditor", "permissions": []}, headers=as_admin)

    assert response.status_code == 201
    assert response.get_json()["description"] == ""


def test_member_reads_roles_but_cannot_create_one(client, acme, reviewer, auth_headers):
    member = auth_headers(UserFactory(tenant=acme, roles=["member"]))

    read = client.get(role_url(acme, reviewer.id), headers=member)
    create = client.post(roles_url(acme), json={"name": "x", "permissions": []}, headers=member)

    assert read.status_code == 200
    assert read.get_json()["permissions"] == ["projects:read"]
    assert create.status_code == 403
    assert create.get_json()["required_permissions"] == ["roles:write"]


def test_anonymous_is_refused(client, acme):
    response = client.get(roles_url(acme))

    assert response.status_code == 401


def test_list_includes_the_built_in_roles(client, acme, reviewer, as_admin):
    items = client.get(roles_url(acme), headers=as_admin).get_json()["items"]

    by_name = {item["name"]: item for item in items}
    assert set(by_name) == {"admin", "member", "reviewer"}
    assert by_name["admin"]["builtin"] is True
    assert by_name["member"]["permissions"] == sorted(BUILTIN_ROLE_PERMISSIONS[BuiltinRole.MEMBER])
    assert by_name["reviewer"]["builtin"] is False


def test_pagination_walks_every_role_once(client, acme, as_admin):
    created = {str(RoleFactory(tenant=acme, name=f"custom-{i}").id) for i in range(5)}

    seen, cursor, pages = [], None, 0
    while True:
        url = roles_url(acme) + "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=as_admin).get_json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3  # 2 built-in + 5 custom roles
    assert len(seen) == len(set(seen)) == 7
    assert created <= set(seen)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "unknown=1"])
def test_bad_list_parameters_are_422(client, acme, as_admin, query):
    response = client.get(f"{roles_url(acme)}?{query}", headers=as_admin)

    assert response.status_code == 422


def test_admin_renames_and_describes_a_role(client, acme, reviewer, as_admin):
    response = client.patch(
        role_url(acme, reviewer.id), json={"name": "readers", "description": "Read only."}, headers=as_admin
    )

    assert response.status_code == 200
    assert response.get_json()["name"] == "readers"
    assert response.get_json()["description"] == "Read only."
    assert response.get_json()["permissions"] == ["projects:read"]


def test_admin_replaces_a_roles_permissions(client, db, acme, reviewer, as_admin):
    response = client.patch(
        role_url(acme, reviewer.id), json={"permissions": ["audit:read", "users:read"]}, headers=as_admin
    )

    assert response.status_code == 200
    assert response.get_json()["permissions"] == ["audit:read", "users:read"]
    assert permissions_of(db, reviewer.id) == ["audit:read", "users:read"]


def test_admin_deletes_a_custom_role(client, db, acme, reviewer, as_admin):
    response = client.delete(role_url(acme, reviewer.id), headers=as_admin)

    assert response.status_code == 204
    assert client.get(role_url(acme, reviewer.id), headers=as_admin).status_code == 404
    assert db.scalar(select(func.count()).select_from(Role).where(Role.id == reviewer.id)) == 0


# Validation


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"permissions": []}, "name"),
        ({"name": "", "permissions": []}, "name"),
        ({"name": "Auditor", "permissions": []}, "name"),
        ({"name": "-auditor", "permissions": []}, "name"),
        ({"name": "audit or", "permissions": []}, "name"),
        ({"name": "auditor\n", "permissions": []}, "name"),
        ({"name": "a" * 65, "permissions": []}, "name"),
        ({"name": 7, "permissions": []}, "name"),
        ({"name": "admin", "permissions": []}, "name"),
        ({"name": "member", "permissions": []}, "name"),
        ({"name": "platform-admin", "permissions": []}, "name"),
        ({"name": "auditor"}, "permissions"),
        ({"name": "auditor", "permissions": ["audit:read", "audit:delete"]}, "permissions"),
        ({"name": "auditor", "permissions": ["AUDIT:READ"]}, "permissions"),
        ({"name": "auditor", "permissions": ["audit:read", "audit:read"]}, "permissions"),
        ({"name": "auditor", "permissions": "audit:read"}, "permissions"),
        ({"name": "auditor", "permissions": None}, "permissions"),
        ({"name": "auditor", "permissions": [], "description": "x" * 501}, "description"),
        ({"name": "auditor", "permissions": [], "description": "bad\u202eone"}, "description"),
        ({"name": "auditor", "permissions": [], "description": 5}, "description"),
        ({"name": "auditor", "permissions": [], "builtin": True}, "builtin"),
        ({"name": "auditor", "permissions": [], "tenant_id": str(uuid.uuid4())}, "tenant_id"),
    ],
    ids=[
        "name missing",
        "name empty",
        "name upper case",
        "name starts with a dash",
        "name with a space",
        "name with a trailing newline",
        "name too long",
        "name not a string",
        "name admin reserved",
        "name member reserved",
        "name platform-admin reserved",
        "permissions missing",
        "unknown permission",
        "permission in the wrong case",
        "duplicate permission",
        "permissions not a list",
        "permissions null",
        "description too long",
        "description with a bidi override",
        "description not a string",
        "builtin is not settable",
        "tenant_id is not settable",
    ],
)
def test_invalid_create_bodies_are_422_naming_the_field(client, acme, as_admin, body, field):
    response = client.post(roles_url(acme), json=body, headers=as_admin)

    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == "validation_error"
    assert field in [error["field"] for error in response.get_json()["errors"]]


def test_an_unknown_permission_is_named_by_position_not_echoed(client, acme, as_admin):
    body = {"name": "auditor", "permissions": ["audit:read", "<script>"]}

    response = client.post(roles_url(acme), json=body, headers=as_admin)

    assert response.get_json()["errors"] == [
        {"field": "permissions", "message": "item 1 is not in the permission catalog (see GET /permissions)"}
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"name": None}, "name"),
        ({"permissions": None}, "permissions"),
        ({"description": None}, "description"),
        ({"name": "admin"}, "name"),
        ({"name": "Readers"}, "name"),
        ({"permissions": ["projects:read", "nope"]}, "permissions"),
        ({"builtin": True}, "builtin"),
    ],
    ids=[
        "empty",
        "null name",
        "null permissions",
        "null description",
        "reserved name",
        "bad name",
        "unknown permission",
        "builtin",
    ],
)
def test_invalid_update_bodies_are_422_naming_the_field(client, acme, reviewer, as_admin, body, field):
    response = client.patch(role_url(acme, reviewer.id), json=body, headers=as_admin)

    assert response.status_code == 422, response.get_json()
    assert field in [error["field"] for error in response.get_json()["errors"]]


def test_a_duplicate_name_is_a_409(client, acme, reviewer, as_admin):
    response = client.post(roles_url(acme), json={"name": "reviewer", "permissions": []}, headers=as_admin)

    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"


def test_renaming_onto_an_existing_name_is_a_409(client, acme, reviewer, as_admin):
    other = RoleFactory(tenant=acme, name="writer")

    response = client.patch(role_url(acme, other.id), json={"name": "reviewer"}, headers=as_admin)

    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"


def test_the_same_name_is_free_in_another_tenant(client, acme, as_admin):
    RoleFactory(tenant=TenantFactory(slug="globex"), name="auditor")

    response = client.post(roles_url(acme), json={"name": "auditor", "permissions": []}, headers=as_admin)

    assert response.status_code == 201


# Isolation


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PATCH", {"description": "mine now"}), ("DELETE", None)],
)
def test_another_tenants_role_is_a_404_exactly_like_a_missing_one(client, db, acme, as_admin, method, body):
    foreign = RoleFactory(tenant=TenantFactory(slug="globex"), name="spy", permissions=["projects:read"])

    by_foreign_id = client.open(role_url(acme, foreign.id), method=method, json=body, headers=as_admin)
    missing = client.open(role_url(acme, uuid.uuid4()), method=method, json=body, headers=as_admin)

    assert by_foreign_id.status_code == missing.status_code == 404
    assert by_foreign_id.get_json() == missing.get_json()
    db.refresh(foreign)
    assert foreign.description == ""


def test_another_tenants_roles_are_a_404_for_its_admin(client, acme, as_admin):
    globex = TenantFactory(slug="globex")

    response = client.get(roles_url(globex), headers=as_admin)

    assert response.status_code == 404


def test_platform_admin_manages_roles_in_any_tenant(client, acme, reviewer, auth_headers):
    operator = auth_headers(UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"]))

    created = client.post(
        roles_url(acme), json={"name": "ops", "permissions": ["audit:read"]}, headers=operator
    )
    edited = client.patch(role_url(acme, reviewer.id), json={"description": "By ops."}, headers=operator)

    assert created.status_code == 201
    assert edited.status_code == 200


def test_platform_admin_naming_a_missing_tenant_gets_a_404(client, auth_headers):
    operator = auth_headers(UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"]))

    response = client.post(
        f"/tenants/{uuid.uuid4()}/roles", json={"name": "ops", "permissions": []}, headers=operator
    )

    assert response.status_code == 404


# Escalation (OWASP API5): nobody hands out what they do not hold


def test_nobody_creates_a_role_with_a_permission_they_lack(client, acme, role_manager, auth_headers):
    body = {"name": "sneaky", "permissions": ["projects:read", "users:write", "audit:read"]}

    response = client.post(roles_url(acme), json=body, headers=auth_headers(role_manager))

    assert response.status_code == 403
    assert response.get_json()["code"] == "permission_denied"
    assert response.get_json()["required_permissions"] == ["audit:read", "users:write"]


def test_nobody_adds_a_permission_they_lack_to_a_role(client, db, acme, reviewer, role_manager, auth_headers):
    response = client.patch(
        role_url(acme, reviewer.id),
        json={"permissions": ["projects:read", "users:write"]},
        headers=auth_headers(role_manager),
    )

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["users:write"]
    assert permissions_of(db, reviewer.id) == ["projects:read"]


def test_nobody_edits_a_role_carrying_a_permission_they_lack(client, acme, role_manager, auth_headers):
    powerful = RoleFactory(tenant=acme, name="powerful", permissions=["projects:read", "users:write"])

    response = client.patch(
        role_url(acme, powerful.id), json={"description": "harmless?"}, headers=auth_headers(role_manager)
    )

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["users:write"]


def test_nobody_strips_a_role_of_a_permission_they_lack(client, acme, role_manager, auth_headers):
    # Emptying a role and then deleting it would otherwise get round the delete rule below.
    powerful = RoleFactory(tenant=acme, name="powerful", permissions=["projects:read", "users:write"])

    response = client.patch(
        role_url(acme, powerful.id),
        json={"permissions": ["projects:read"]},
        headers=auth_headers(role_manager),
    )

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["users:write"]


def test_nobody_deletes_a_role_carrying_a_permission_they_lack(client, db, acme, role_manager, auth_headers):
    powerful = RoleFactory(tenant=acme, name="powerful", permissions=["projects:read", "users:write"])

    response = client.delete(role_url(acme, powerful.id), headers=auth_headers(role_manager))

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["users:write"]
    assert db.scalar(select(func.count()).select_from(Role).where(Role.id == powerful.id)) == 1


def test_role_manager_creates_a_role_within_their_own_permissions(client, acme, role_manager, auth_headers):
    body = {"name": "readers", "permissions": ["projects:read"]}

    response = client.post(roles_url(acme), json=body, headers=auth_headers(role_manager))

    assert response.status_code == 201


@pytest.mark.parametrize("actor", ["acme-admin", "platform-admin"])
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_platform_permissions_never_enter_an_ordinary_tenant(
    client, acme, reviewer, auth_headers, actor, method
):
    if actor == "platform-admin":
        user = UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"])
    else:
        user = UserFactory(tenant=acme, roles=["admin"])
    permissions = ["projects:read", "platform:read"]
    if method == "POST":
        url, body = roles_url(acme), {"name": "operators", "permissions": permissions}
    else:
        url, body = role_url(acme, reviewer.id), {"permissions": permissions}

    response = client.open(url, method=method, json=body, headers=auth_headers(user))

    assert response.status_code == 422
    assert [error["field"] for error in response.get_json()["errors"]] == ["permissions"]


def test_platform_admin_creates_a_platform_role_in_the_platform_tenant(client, auth_headers):
    platform = TenantFactory(slug="platform")
    operator = UserFactory(tenant=platform, roles=["platform-admin"])
    body = {"name": "platform-auditor", "permissions": ["platform:read"]}

    response = client.post(roles_url(platform), json=body, headers=auth_headers(operator))

    assert response.status_code == 201
    assert response.get_json()["permissions"] == ["platform:read"]


# Built-in roles are immutable


@pytest.mark.parametrize("builtin", [BuiltinRole.ADMIN, BuiltinRole.MEMBER])
@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"description": "changed"}), ("PATCH", {"permissions": ["tenant:read"]}), ("DELETE", None)],
    ids=["describe", "re-permission", "delete"],
)
def test_built_in_roles_cannot_be_changed_or_deleted(client, db, acme, as_admin, builtin, method, body):
    role = builtin_role(db, acme, builtin)
    before = permissions_of(db, role.id)

    response = client.open(role_url(acme, role.id), method=method, json=body, headers=as_admin)

    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"
    assert "Built-in roles cannot be changed or deleted" in response.get_json()["detail"]
    assert permissions_of(db, role.id) == before


def test_the_sole_admin_deleting_a_role_they_hold_stays_admin(client, acme, login):
    # Admin rights come from the built-in admin role, which no request can change or delete.
    extra = RoleFactory(tenant=acme, name="extra", permissions=["projects:read"])
    boss = UserFactory(tenant=acme, roles=["admin", "extra"])
    tokens = login(boss)

    deleted = client.delete(role_url(acme, extra.id), headers=bearer(tokens["access_token"]))

    assert deleted.status_code == 204
    refreshed = client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).get_json()
    me = client.get("/auth/me", headers=bearer(refreshed["access_token"])).get_json()
    assert me["roles"] == ["admin"]
    assert "roles:write" in me["permissions"]


# Holders: a change takes effect on their very next request (API.md, "Immediate effect")


def test_changing_permissions_revokes_holders_access_tokens(client, acme, reviewer, as_admin, login):
    holder = login(UserFactory(tenant=acme, roles=["reviewer"]))

    client.patch(role_url(acme, reviewer.id), json={"permissions": ["audit:read"]}, headers=as_admin)

    old = client.get("/auth/me", headers=bearer(holder["access_token"]))
    assert old.status_code == 401
    assert old.get_json()["code"] == "token_revoked"


def test_holders_refresh_into_the_new_permissions(client, acme, reviewer, as_admin, login):
    holder = login(UserFactory(tenant=acme, roles=["reviewer"]))
    client.patch(role_url(acme, reviewer.id), json={"permissions": ["audit:read"]}, headers=as_admin)

    refreshed = client.post("/auth/refresh", headers=bearer(holder["refresh_token"]))

    assert refreshed.status_code == 200
    me = client.get("/auth/me", headers=bearer(refreshed.get_json()["access_token"])).get_json()
    assert me["permissions"] == ["audit:read"]


def test_deleting_a_role_revokes_holders_access_tokens_and_memberships(
    client, db, acme, reviewer, as_admin, login
):
    holder_user = UserFactory(tenant=acme, roles=["member", "reviewer"])
    holder = login(holder_user)

    client.delete(role_url(acme, reviewer.id), headers=as_admin)

    old = client.get("/auth/me", headers=bearer(holder["access_token"]))
    assert old.status_code == 401
    assert old.get_json()["code"] == "token_revoked"
    refreshed = client.post("/auth/refresh", headers=bearer(holder["refresh_token"])).get_json()
    me = client.get("/auth/me", headers=bearer(refreshed["access_token"])).get_json()
    assert me["roles"] == ["member"]
    assert db.scalars(select(UserRole).where(UserRole.role_id == reviewer.id)).all() == []


def test_renaming_a_role_revokes_holders_access_tokens(client, acme, reviewer, as_admin, login):
    # Tokens carry role names; a renamed role makes them lie.
    holder = login(UserFactory(tenant=acme, roles=["reviewer"]))

    client.patch(role_url(acme, reviewer.id), json={"name": "readers"}, headers=as_admin)

    assert client.get("/auth/me", headers=bearer(holder["access_token"])).status_code == 401


def test_describing_a_role_leaves_holders_tokens_alone(client, acme, reviewer, as_admin, login):
    holder = login(UserFactory(tenant=acme, roles=["reviewer"]))

    client.patch(role_url(acme, reviewer.id), json={"description": "Same powers."}, headers=as_admin)

    assert client.get("/auth/me", headers=bearer(holder["access_token"])).status_code == 200


def test_other_users_tokens_survive_a_role_change(client, acme, reviewer, as_admin, login):
    bystander = login(UserFactory(tenant=acme, roles=["member"]))

    client.patch(role_url(acme, reviewer.id), json={"permissions": ["audit:read"]}, headers=as_admin)
    client.delete(role_url(acme, reviewer.id), headers=as_admin)

    assert client.get("/auth/me", headers=bearer(bystander["access_token"])).status_code == 200
    assert client.get("/auth/me", headers=as_admin).status_code == 200


# Audit: the change and its event commit together


def test_creating_a_role_is_audited(client, db, acme, admin, as_admin):
    body = {"name": "auditor", "permissions": ["projects:read", "audit:read"]}

    role_id = client.post(roles_url(acme), json=body, headers=as_admin).get_json()["id"]

    [event] = audit_events(db, "role.created")
    assert event.actor_id == str(admin.id)
    assert event.target_id == role_id
    assert event.details == {
        "name": "auditor",
        "permissions": {"added": ["audit:read", "projects:read"], "removed": []},
    }


def test_changing_a_roles_permissions_audits_what_was_added_and_removed(client, db, acme, reviewer, as_admin):
    client.patch(
        role_url(acme, reviewer.id), json={"permissions": ["audit:read", "users:read"]}, headers=as_admin
    )

    [event] = audit_events(db, "role.updated")
    assert event.target_id == str(reviewer.id)
    assert event.details == {
        "permissions": {"added": ["audit:read", "users:read"], "removed": ["projects:read"]}
    }


def test_deleting_a_role_is_audited_with_what_its_holders_lost(client, db, acme, reviewer, as_admin):
    UserFactory(tenant=acme, roles=["reviewer"])

    client.delete(role_url(acme, reviewer.id), headers=as_admin)

    [event] = audit_events(db, "role.deleted")
    assert event.target_id == str(reviewer.id)
    assert event.details == {
        "name": "reviewer",
        "permissions": {"added": [], "removed": ["projects:read"]},
        "holders": 1,
    }


def test_a_patch_that_changes_nothing_writes_no_event(client, db, acme, reviewer, as_admin):
    response = client.patch(
        role_url(acme, reviewer.id), json={"permissions": ["projects:read"]}, headers=as_admin
    )

    assert response.status_code == 200
    assert audit_events(db, "role.updated") == []


class CommitFailed(Exception):
    pass


@contextmanager
def failing_commit(session: Session) -> Iterator[None]:
    """Make the commit that carries an audit event fail: `record` has been called by then."""

    def fail(session: Session) -> None:
        if any(isinstance(obj, AuditEvent) for obj in session.new):
            raise CommitFailed

    session.commit()  # the situation so far is settled; only the change is at stake
    event.listen(session, "before_commit", fail)
    try:
        with pytest.raises(CommitFailed):
            yield
    finally:
        event.remove(session, "before_commit", fail)


def test_a_failed_create_leaves_neither_role_nor_event(db, acme, admin):
    with failing_commit(db):
        service.create_role(
            db,
            acme.id,
            name="auditor",
            description="",
            permissions=[Permission.AUDIT_READ],
            actor=principal_for(admin),
        )

    assert db.scalars(select(Role).where(Role.name == "auditor")).all() == []
    assert audit_events(db, "role.created") == []


def test_a_failed_update_leaves_the_role_its_holders_and_the_log_as_they_were(db, acme, admin, reviewer):
    holder = UserFactory(tenant=acme, roles=["reviewer"])
    version = holder.authz_version

    with failing_commit(db):
        service.update_role(
            db,
            acme.id,
            reviewer.id,
            permissions=[Permission.AUDIT_READ],
            actor=principal_for(admin),
        )

    assert permissions_of(db, reviewer.id) == ["projects:read"]
    assert db.scalar(select(User.authz_version).where(User.id == holder.id)) == version
    assert audit_events(db, "role.updated") == []


def test_a_failed_delete_leaves_the_role_its_memberships_and_the_log_as_they_were(db, acme, admin, reviewer):
    holder = UserFactory(tenant=acme, roles=["reviewer"])

    with failing_commit(db):
        service.delete_role(
            db,
            acme.id,
            reviewer.id,
            actor=principal_for(admin),
        )

    assert db.scalar(select(func.count()).select_from(Role).where(Role.id == reviewer.id)) == 1
    assert db.scalars(select(UserRole.user_id).where(UserRole.role_id == reviewer.id)).all() == [holder.id]
    assert audit_events(db, "role.deleted") == []


# Races: a unique constraint, not a check-then-insert, decides


def seed_admin(committing_app) -> tuple[str, str]:
    """A tenant with an admin, really committed; returns (tenant id, access token)."""
    with services(committing_app).database.sessions() as session, session.begin():
        tenant = create_tenant(session, "acme", "Acme")
        password_hash = services(committing_app).passwords.hash(PASSWORD)
        create_user(
            session, tenant, "alice", password_hash, roles=[builtin_role(session, tenant, BuiltinRole.ADMIN)]
        )
        tenant_id = str(tenant.id)
    response = committing_app.test_client().post(
        "/auth/login", json={"tenant": "acme", "username": "alice", "password": PASSWORD}
    )
    return tenant_id, response.get_json()["access_token"]


def test_concurrent_creates_of_one_name_answer_201_and_409(committing_app):
    tenant_id, token = seed_admin(committing_app)
    rounds = 5
    statuses: list[list[int]] = [[] for _ in range(rounds)]

    def post(round_: int, barrier: threading.Barrier) -> None:
        api = committing_app.test_client()
        barrier.wait()
        response = api.post(
            f"/tenants/{tenant_id}/roles",
            json={"name": f"racer-{round_}", "permissions": ["projects:read"]},
            headers=bearer(token),
        )
        statuses[round_].append(response.status_code)

    for round_ in range(rounds):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=post, args=(round_, barrier)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert [sorted(s) for s in statuses] == [[201, 409]] * rounds


# Query counts: a page of roles costs the same with 10 roles or 1,000


def insert_roles(db, tenant, count: int) -> None:
    bulk.roles(db, tenant, count, permissions=("projects:read", "audit:read"))
    db.flush()


def test_listing_roles_costs_the_same_queries_with_10_or_1000_roles(
    client, db, acme, admin, auth_headers, count_queries
):
    url = roles_url(acme) + "?limit=100"
    insert_roles(db, acme, 10)
    headers = auth_headers(admin)  # a fresh token each time: both requests start cold
    with count_queries.counting():
        small = client.get(url, headers=headers)
    small_count = count_queries.count

    insert_roles(db, acme, 990)
    headers = auth_headers(admin)
    with count_queries.counting():
        large = client.get(url, headers=headers)

    assert len(small.get_json()["items"]) == 12
    assert len(large.get_json()["items"]) == 100
    assert count_queries.count == small_count, count_queries.statements
    # The permissions of a whole page come in one query (Role.grants is selectin-loaded).
    assert sum("FROM role_permissions" in s for s in count_queries.statements) == 1
