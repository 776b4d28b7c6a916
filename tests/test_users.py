"""The users API: who may do what, validation, tenant isolation, escalation guards, the
last administrator, immediate effect on tokens, audit atomicity, races and query counts."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, ValidationFailed
from app.provisioning import add_role, builtin_role, create_tenant, create_user
from app.services import services
from app.users import service
from models import AuditEvent, LoginSession, Role, User, UserRole
from policies import (
    BUILTIN_ROLE_PERMISSIONS,
    BuiltinRole,
    Permission,
    PermissionDenied,
)
from tests import bulk
from tests.conftest import PASSWORD, bearer
from tests.factories import RoleFactory, TenantFactory, UserFactory
from tests.principals import principal_for

NEW_PASSWORD = "another-long-enough-password"
ADMIN = BUILTIN_ROLE_PERMISSIONS[BuiltinRole.ADMIN]


@pytest.fixture
def headers(admin, auth_headers):
    """The acme admin's bearer header."""
    return auth_headers(admin)


@pytest.fixture
def session(app, db):
    """A session like a request's: its own savepoint on the test's connection, so that a
    service's rollback undoes only its own work."""
    a_session = services(app).database.sessions()
    yield a_session
    a_session.close()


@pytest.fixture
def passwords(app):
    return services(app).passwords


def users_url(tenant, user=None, suffix=""):
    base = f"/tenants/{tenant.id}/users"
    return base + (f"/{user.id if hasattr(user, 'id') else user}" if user is not None else "") + suffix


def role_names(db, user) -> list[str]:
    return sorted(
        db.scalars(
            select(Role.name).join(UserRole, UserRole.role_id == Role.id).where(UserRole.user_id == user.id)
        )
    )


def events(db, action: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def fresh(db, user: User) -> User | None:
    return db.scalars(
        select(User).where(User.id == user.id).execution_options(populate_existing=True)
    ).one_or_none()


# ----------------------------------------------------------------------------- allow


def test_admin_lists_users_with_sorted_role_names_and_no_password_hash(client, acme, admin, headers):
    RoleFactory(tenant=acme, name="auditor", permissions=[Permission.AUDIT_READ])
    UserFactory(tenant=acme, username="bob", roles=["member", "auditor"], email="bob@example.com")

    page = client.get(users_url(acme), headers=headers).get_json()

    assert [item["username"] for item in page["items"]] == ["alice", "bob"]
    bob = page["items"][1]
    assert set(bob) == {
        "id",
        "tenant_id",
        "username",
        "email",
        "is_active",
        "roles",
        "created_at",
        "last_login_at",
    }
    assert bob["roles"] == ["auditor", "member"]
    assert bob["tenant_id"] == str(acme.id)
    assert page["next_cursor"] is None
    assert "argon2" not in json.dumps(page)


def test_member_reads_users_but_cannot_create_one(client, acme, auth_headers):
    bob = UserFactory(tenant=acme, roles=["member"])
    headers = auth_headers(bob)

    listed = client.get(users_url(acme), headers=headers)
    one = client.get(users_url(acme, bob), headers=headers)
    created = client.post(users_url(acme), json={"username": "x", "password": NEW_PASSWORD}, headers=headers)

    assert listed.status_code == one.status_code == 200
    assert created.status_code == 403
    assert created.get_json()["required_permissions"] == ["users:write"]


def test_anonymous_is_401(client, acme):
    assert client.get(users_url(acme)).status_code == 401


def test_admin_creates_a_user_who_can_then_log_in(client, acme, headers, login):
    response = client.post(
        users_url(acme),
        json={
            "username": "carol",
            "password": NEW_PASSWORD,
            "email": "carol@example.com",
            "roles": ["member"],
        },
        headers=headers,
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["username"] == "carol"
    assert body["email"] == "carol@example.com"
    assert body["roles"] == ["member"]
    assert body["is_active"] is True
    assert body["last_login_at"] is None
    logged_in = client.post(
        "/auth/login", json={"tenant": "acme", "username": "carol", "password": NEW_PASSWORD}
    )
    assert logged_in.status_code == 200


def test_admin_gets_one_user(client, acme, admin, headers):
    response = client.get(users_url(acme, admin), headers=headers)

    assert response.status_code == 200
    assert response.get_json()["roles"] == ["admin"]


def test_patch_changes_email_and_null_clears_it(client, acme, headers):
    bob = UserFactory(tenant=acme, email="bob@example.com")

    changed = client.patch(users_url(acme, bob), json={"email": "robert@example.com"}, headers=headers)
    cleared = client.patch(users_url(acme, bob), json={"email": None}, headers=headers)

    assert changed.get_json()["email"] == "robert@example.com"
    assert cleared.get_json()["email"] is None


def test_put_roles_replaces_them(client, db, acme, headers):
    RoleFactory(tenant=acme, name="auditor", permissions=[Permission.AUDIT_READ])
    bob = UserFactory(tenant=acme, roles=["member"])

    response = client.put(
        users_url(acme, bob, "/roles"), json={"roles": ["auditor", "admin"]}, headers=headers
    )

    assert response.status_code == 200
    assert response.get_json()["roles"] == ["admin", "auditor"]
    assert role_names(db, bob) == ["admin", "auditor"]


def test_delete_removes_the_user_with_memberships_and_sessions(client, db, acme, headers, login):
    bob = UserFactory(tenant=acme, roles=["member"])
    login(bob)

    response = client.delete(users_url(acme, bob), headers=headers)

    assert response.status_code == 204
    assert fresh(db, bob) is None
    assert db.scalar(select(func.count()).select_from(UserRole).where(UserRole.user_id == bob.id)) == 0
    assert (
        db.scalar(select(func.count()).select_from(LoginSession).where(LoginSession.user_id == bob.id)) == 0
    )


def test_platform_admin_manages_users_of_any_tenant(client, acme, admin, auth_headers):
    operator = UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"])
    headers = auth_headers(operator)

    created = client.post(
        users_url(acme),
        json={"username": "dave", "password": NEW_PASSWORD, "roles": ["admin"]},
        headers=headers,
    )
    dave = created.get_json()["id"]
    demoted = client.put(users_url(acme, dave, "/roles"), json={"roles": ["member"]}, headers=headers)
    deleted = client.delete(users_url(acme, dave), headers=headers)

    assert (created.status_code, demoted.status_code, deleted.status_code) == (201, 200, 204)


def test_platform_admin_naming_a_missing_tenant_gets_404(client, auth_headers):
    operator = UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"])
    headers = auth_headers(operator)
    nowhere = f"/tenants/{uuid.uuid4()}/users"

    listed = client.get(nowhere, headers=headers)
    created = client.post(nowhere, json={"username": "x", "password": NEW_PASSWORD}, headers=headers)

    assert listed.status_code == created.status_code == 404


# ----------------------------------------------------------------------------- list filters


def test_q_matches_part_of_username_or_email_in_any_case(client, acme, headers):
    UserFactory(tenant=acme, username="Bob.Builder")
    UserFactory(tenant=acme, username="carol", email="Carol@Builders.example")
    UserFactory(tenant=acme, username="dave")

    page = client.get(users_url(acme) + "?q=BUILD", headers=headers).get_json()

    assert sorted(item["username"] for item in page["items"]) == ["Bob.Builder", "carol"]


def test_q_treats_like_wildcards_literally(client, acme, headers):
    UserFactory(tenant=acme, username="100%_sure")
    UserFactory(tenant=acme, username="100xy")

    page = client.get(users_url(acme) + "?q=0%25_", headers=headers).get_json()

    assert [item["username"] for item in page["items"]] == ["100%_sure"]


def test_role_filter_lists_holders_of_that_role_only(client, acme, headers):
    UserFactory(tenant=acme, username="bob", roles=["member"])
    UserFactory(tenant=acme, username="carol", roles=[])

    page = client.get(users_url(acme) + "?role=member", headers=headers).get_json()

    assert [item["username"] for item in page["items"]] == ["bob"]


def test_is_active_filter(client, acme, headers):
    UserFactory(tenant=acme, username="gone", is_active=False)

    inactive = client.get(users_url(acme) + "?is_active=false", headers=headers).get_json()
    active = client.get(users_url(acme) + "?is_active=true", headers=headers).get_json()

    assert [item["username"] for item in inactive["items"]] == ["gone"]
    assert [item["username"] for item in active["items"]] == ["alice"]


def test_pagination_walks_every_user_once(client, acme, admin, headers):
    created = {str(u.id) for u in UserFactory.create_batch(6, tenant=acme)} | {str(admin.id)}

    seen, cursor, pages = [], None, 0
    while True:
        url = users_url(acme) + "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).get_json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert sorted(seen) == sorted(created)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "is_active=maybe", "role=", "unknown=1"])
def test_bad_list_parameters_are_422(client, acme, headers, query):
    assert client.get(users_url(acme) + f"?{query}", headers=headers).status_code == 422


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": NEW_PASSWORD}, "username"),
        ({"username": "", "password": NEW_PASSWORD}, "username"),
        ({"username": "x" * 151, "password": NEW_PASSWORD}, "username"),
        ({"username": "bad\x00name", "password": NEW_PASSWORD}, "username"),
        ({"username": "evil\u202eexe.txt", "password": NEW_PASSWORD}, "username"),
        ({"username": "zero\u200bwidth", "password": NEW_PASSWORD}, "username"),
        ({"username": " padded", "password": NEW_PASSWORD}, "username"),
        ({"username": "\ufdfa" * 10, "password": NEW_PASSWORD}, "username"),  # NFKC expands it past 150
        ({"username": 42, "password": NEW_PASSWORD}, "username"),
        ({"username": "erin"}, "password"),
        ({"username": "erin", "password": "x" * 11}, "password"),
        ({"username": "erin", "password": "x" * 1025}, "password"),
        ({"username": "erin", "password": NEW_PASSWORD, "email": "not-an-email"}, "email"),
        ({"username": "erin", "password": NEW_PASSWORD, "roles": "admin"}, "roles"),
        ({"username": "erin", "password": NEW_PASSWORD, "tenant_id": str(uuid.uuid4())}, "tenant_id"),
        ({"username": "erin", "password": NEW_PASSWORD, "id": str(uuid.uuid4())}, "id"),
        ({"username": "erin", "password": NEW_PASSWORD, "is_admin": True}, "is_admin"),
    ],
    ids=[
        "username missing",
        "username empty",
        "username too long",
        "username with NUL",
        "username with bidi override",
        "username with zero-width space",
        "username with leading space",
        "username too long after NFKC",
        "username not a string",
        "password missing",
        "password too short",
        "password too long",
        "email invalid",
        "roles not a list",
        "tenant_id",
        "id",
        "unknown field",
    ],
)
def test_invalid_create_bodies_are_422_naming_the_field(client, acme, headers, body, field):
    response = client.post(users_url(acme), json=body, headers=headers)

    assert response.status_code == 422
    assert field in [error["field"] for error in response.get_json()["errors"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"roles": ["admin"]}, "roles"),
        ({"username": "renamed"}, "username"),
        ({"tenant_id": str(uuid.uuid4())}, "tenant_id"),
        ({"id": str(uuid.uuid4())}, "id"),
        ({"password_hash": "x"}, "password_hash"),
        ({"is_active": "false"}, "is_active"),
        ({"is_active": None}, "is_active"),
        ({"password": None}, "password"),
        ({"password": "short"}, "password"),
    ],
)
def test_patch_accepts_only_email_is_active_and_password(client, db, acme, headers, body, field):
    bob = UserFactory(tenant=acme, roles=["member"])

    response = client.patch(users_url(acme, bob), json=body, headers=headers)

    assert response.status_code == 422
    assert field in [error["field"] for error in response.get_json()["errors"]]
    assert role_names(db, bob) == ["member"]


def test_password_length_is_refused_before_any_hashing(client, acme, headers, passwords, monkeypatch):
    def no_hashing(password):
        raise AssertionError("a refused password must never be hashed")

    monkeypatch.setattr(passwords, "hash", no_hashing)

    created = client.post(users_url(acme), json={"username": "erin", "password": "x" * 1025}, headers=headers)
    patched = client.patch(
        users_url(acme, UserFactory(tenant=acme)), json={"password": "short"}, headers=headers
    )

    assert created.status_code == patched.status_code == 422


def test_service_refuses_a_short_password_before_hashing(session, acme, admin, passwords, monkeypatch):
    monkeypatch.setattr(passwords, "hash", lambda password: pytest.fail("hashed"))

    with pytest.raises(ValidationFailed) as refused:
        service.create_user(
            session, passwords, acme.id, principal_for(admin), username="erin", password="short"
        )

    assert refused.value.extra["errors"][0]["field"] == "password"


def test_username_is_stored_nfkc_normalised(client, db, acme, headers):
    response = client.post(
        users_url(acme),
        json={"username": "\uff45\uff52\uff49\uff4e", "password": NEW_PASSWORD},
        headers=headers,
    )

    assert response.get_json()["username"] == "erin"  # fullwidth letters, normalised
    assert db.scalar(select(User.username_key).where(User.username == "erin")) == "erin"


@pytest.mark.parametrize(
    "taken", ["Erin", "ERIN", "\uff25\uff32\uff29\uff2e"], ids=["case", "upper", "fullwidth"]
)
def test_usernames_are_unique_per_tenant_case_insensitively(client, acme, headers, taken):
    UserFactory(tenant=acme, username="erin")

    response = client.post(
        users_url(acme), json={"username": taken, "password": NEW_PASSWORD}, headers=headers
    )

    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"


def test_the_same_username_may_exist_in_another_tenant(client, acme, globex, headers):
    UserFactory(tenant=globex, username="erin")

    response = client.post(
        users_url(acme), json={"username": "erin", "password": NEW_PASSWORD}, headers=headers
    )

    assert response.status_code == 201


def test_unknown_role_names_are_422_naming_roles(client, acme, headers):
    response = client.post(
        users_url(acme),
        json={"username": "erin", "password": NEW_PASSWORD, "roles": ["wizard"]},
        headers=headers,
    )

    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {"field": "roles", "message": "no such role in this tenant: wizard"}
    ]


# ----------------------------------------------------------------------------- isolation


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"email": "stolen@example.com"}),
        ("DELETE", "", None),
        ("PUT", "/roles", {"roles": ["member"]}),
    ],
)
def test_another_tenants_user_is_a_404_exactly_like_a_missing_one(
    client, db, acme, globex, headers, method, suffix, body
):
    foreign = UserFactory(tenant=globex, roles=["admin"], email="owner@globex.example")

    by_foreign_id = client.open(users_url(acme, foreign, suffix), method=method, json=body, headers=headers)
    missing = client.open(users_url(acme, uuid.uuid4(), suffix), method=method, json=body, headers=headers)

    assert by_foreign_id.status_code == missing.status_code == 404
    assert by_foreign_id.get_json() == missing.get_json()
    assert fresh(db, foreign).email == "owner@globex.example"
    assert role_names(db, foreign) == ["admin"]


def test_another_tenants_path_is_a_404_even_for_its_admin(client, globex, headers):
    assert client.get(users_url(globex), headers=headers).status_code == 404


def test_roles_are_looked_up_in_the_path_tenant_only(client, acme, globex, headers):
    RoleFactory(tenant=globex, name="globex-only", permissions=[Permission.PROJECTS_READ])

    response = client.post(
        users_url(acme),
        json={"username": "erin", "password": NEW_PASSWORD, "roles": ["globex-only"]},
        headers=headers,
    )

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "roles"


# ----------------------------------------------------------------------------- escalation


@pytest.fixture
def recruiter(acme):
    """Manages users but holds only what members hold, plus users:write."""
    RoleFactory(
        tenant=acme,
        name="recruiter",
        permissions=[*BUILTIN_ROLE_PERMISSIONS[BuiltinRole.MEMBER], Permission.USERS_WRITE],
    )
    return UserFactory(tenant=acme, username="rita", roles=["recruiter"])


def test_creating_a_user_with_a_role_beyond_ones_own_permissions_is_403(
    client, acme, recruiter, auth_headers
):
    response = client.post(
        users_url(acme),
        json={"username": "erin", "password": NEW_PASSWORD, "roles": ["admin"]},
        headers=auth_headers(recruiter),
    )

    assert response.status_code == 403
    assert "roles:write" in response.get_json()["required_permissions"]
    assert "users:write" not in response.get_json()["required_permissions"]


def test_granting_a_role_within_ones_own_permissions_is_allowed(client, acme, recruiter, auth_headers):
    bob = UserFactory(tenant=acme, roles=[])

    response = client.put(
        users_url(acme, bob, "/roles"), json={"roles": ["member"]}, headers=auth_headers(recruiter)
    )

    assert response.status_code == 200


def test_put_roles_beyond_ones_own_permissions_is_403_and_changes_nothing(
    client, db, acme, recruiter, auth_headers
):
    bob = UserFactory(tenant=acme, roles=["member"])

    response = client.put(
        users_url(acme, bob, "/roles"), json={"roles": ["admin"]}, headers=auth_headers(recruiter)
    )

    assert response.status_code == 403
    assert role_names(db, bob) == ["member"]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"password": NEW_PASSWORD}),
        ("PATCH", "", {"is_active": False}),
        ("DELETE", "", None),
        ("PUT", "/roles", {"roles": ["member"]}),
    ],
)
def test_a_user_holding_more_than_the_caller_cannot_be_taken_over(
    client, db, acme, admin, recruiter, auth_headers, method, suffix, body
):
    # A new password for an admin would make the recruiter an admin.
    response = client.open(
        users_url(acme, admin, suffix), method=method, json=body, headers=auth_headers(recruiter)
    )

    assert response.status_code == 403
    assert "roles:write" in response.get_json()["required_permissions"]
    assert fresh(db, admin).is_active


def test_nobody_changes_their_own_roles(client, db, acme, admin, headers):
    UserFactory(tenant=acme, roles=["admin"])  # not the last admin: that is not why it fails

    response = client.put(
        users_url(acme, admin, "/roles"), json={"roles": ["admin", "member"]}, headers=headers
    )

    assert response.status_code == 403
    assert response.get_json()["code"] == "permission_denied"
    assert role_names(db, admin) == ["admin"]


def test_platform_permissions_cannot_be_granted_in_an_ordinary_tenant(client, acme, auth_headers):
    RoleFactory(tenant=acme, name="smuggled", permissions=[Permission.PLATFORM_WRITE])
    operator = UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"])
    bob = UserFactory(tenant=acme)

    response = client.put(
        users_url(acme, bob, "/roles"), json={"roles": ["smuggled"]}, headers=auth_headers(operator)
    )

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "roles"


def test_service_refuses_to_grant_what_the_actor_lacks(session, acme, admin, passwords):
    only_users = principal_for(deputy(acme, {Permission.USERS_READ, Permission.USERS_WRITE}))

    with pytest.raises(PermissionDenied):
        service.create_user(
            session, passwords, acme.id, only_users, username="erin", password=NEW_PASSWORD, roles=["member"]
        )


# ----------------------------------------------------------------------------- last admin


def deputy(tenant, permissions=ADMIN) -> User:
    """A user holding `permissions` through a custom role, not the built-in `admin`: the grant
    guards read what the actor holds now, so the actor's roles must really carry them."""
    RoleFactory(tenant=tenant, name="deputy", permissions=sorted(permissions))
    return UserFactory(tenant=tenant, roles=["deputy"])


def test_service_refuses_to_delete_the_last_admin(session, acme, admin):
    with pytest.raises(Conflict):
        service.delete_user(session, acme.id, admin.id, principal_for(deputy(acme)))


def test_service_refuses_to_deactivate_the_last_admin(session, acme, admin, passwords):
    operator = principal_for(deputy(acme))

    with pytest.raises(Conflict):
        service.update_user(session, passwords, acme.id, admin.id, operator, is_active=False)


def test_service_refuses_to_take_admin_from_the_last_admin(session, db, acme, admin):
    operator = principal_for(deputy(acme))

    with pytest.raises(Conflict):
        service.replace_roles(session, acme.id, admin.id, operator, ["member"])

    assert role_names(db, admin) == ["admin"]


def test_an_inactive_admin_does_not_count_as_another_admin(session, acme, admin):
    UserFactory(tenant=acme, roles=["admin"], is_active=False)

    with pytest.raises(Conflict):
        service.delete_user(session, acme.id, admin.id, principal_for(deputy(acme)))


def test_with_another_active_admin_the_admin_may_go(session, db, acme, admin):
    other = UserFactory(tenant=acme, roles=["admin"])

    service.delete_user(session, acme.id, admin.id, principal_for(other))

    assert fresh(db, admin) is None


def test_deleting_the_last_admin_over_http_is_a_409_with_a_clear_detail(client, db, acme, admin, headers):
    response = client.delete(users_url(acme, admin), headers=headers)

    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"
    assert "last active user with the 'admin' role" in response.get_json()["detail"]
    assert fresh(db, admin) is not None


def test_deactivating_the_last_admin_over_http_is_a_409(client, db, acme, admin, headers):
    response = client.patch(users_url(acme, admin), json={"is_active": False}, headers=headers)

    assert response.status_code == 409
    assert fresh(db, admin).is_active


def test_the_last_platform_admin_is_kept_too(session, db):
    platform = TenantFactory(slug="platform")
    operator = UserFactory(tenant=platform, roles=["platform-admin"])
    helper = deputy(platform, set(Permission))

    with pytest.raises(Conflict):
        service.replace_roles(session, platform.id, operator.id, principal_for(helper), ["admin"])


# ----------------------------------------------------------------------------- immediate effect


def test_put_roles_ends_the_users_access_tokens_at_once(client, acme, headers, login):
    bob = UserFactory(tenant=acme, roles=["member"])
    old = bearer(login(bob)["access_token"])
    assert client.get("/auth/me", headers=old).status_code == 200  # its state is cached now

    client.put(users_url(acme, bob, "/roles"), json={"roles": []}, headers=headers)
    response = client.get("/auth/me", headers=old)

    assert response.status_code == 401
    assert response.get_json()["code"] == "token_revoked"


def test_deactivation_ends_the_users_tokens_and_sessions(client, db, acme, headers, login):
    bob = UserFactory(tenant=acme, roles=["member"])
    old = bearer(login(bob)["access_token"])
    assert client.get("/auth/me", headers=old).status_code == 200  # its state is cached now

    patched = client.patch(users_url(acme, bob), json={"is_active": False}, headers=headers)
    response = client.get("/auth/me", headers=old)

    assert patched.get_json()["is_active"] is False
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_revoked"
    assert (
        db.scalar(select(LoginSession.revoked_reason).where(LoginSession.user_id == bob.id)) == "deactivated"
    )


def test_new_password_ends_the_users_sessions_and_replaces_the_old_one(client, db, acme, headers, login):
    bob = UserFactory(tenant=acme, roles=["member"])
    old = bearer(login(bob)["access_token"])
    assert client.get("/auth/me", headers=old).status_code == 200  # its state is cached now

    client.patch(users_url(acme, bob), json={"password": NEW_PASSWORD}, headers=headers)
    response = client.get("/auth/me", headers=old)
    with_old_password = client.post(
        "/auth/login", json={"tenant": "acme", "username": bob.username, "password": PASSWORD}
    )

    assert response.status_code == 401
    assert response.get_json()["code"] == "token_revoked"
    assert with_old_password.status_code == 401
    reasons = db.scalars(select(LoginSession.revoked_reason).where(LoginSession.user_id == bob.id)).all()
    assert reasons == ["password_reset"]
    assert login(bob, NEW_PASSWORD)["access_token"]


def test_ones_own_password_changes_only_with_the_current_one(client, acme, admin, headers):
    # ASVS V2.1.6: POST /auth/password asks for the current password; PATCH must not skip it.
    response = client.patch(users_url(acme, admin), json={"password": NEW_PASSWORD}, headers=headers)

    assert response.status_code == 403
    assert "/auth/password" in response.get_json()["detail"]
    assert client.get("/auth/me", headers=headers).status_code == 200


def test_deletion_ends_the_users_tokens_at_once(client, acme, headers, login):
    bob = UserFactory(tenant=acme, roles=["member"])
    old = bearer(login(bob)["access_token"])
    assert client.get("/auth/me", headers=old).status_code == 200  # its state is cached now

    client.delete(users_url(acme, bob), headers=headers)
    response = client.get("/auth/me", headers=old)

    assert response.status_code == 401
    assert response.get_json()["code"] == "token_revoked"


# ----------------------------------------------------------------------------- audit


def test_creation_is_audited_without_the_password(client, db, acme, admin, headers):
    client.post(
        users_url(acme),
        json={"username": "erin", "password": NEW_PASSWORD, "roles": ["member"]},
        headers=headers,
    )

    (event,) = events(db, "user.created")
    erin = db.scalars(select(User).where(User.username == "erin")).one()
    assert event.actor_id == str(admin.id)
    assert event.target_id == str(erin.id)
    assert event.details == {"username": "erin", "email": None, "roles": ["member"]}
    assert NEW_PASSWORD not in json.dumps(event.details)
    assert erin.password_hash not in json.dumps(event.details)


def test_changes_are_audited_each_with_its_action(client, db, acme, headers):
    bob = UserFactory(tenant=acme, roles=["member"])

    client.patch(
        users_url(acme, bob), json={"email": "bob@example.com", "password": NEW_PASSWORD}, headers=headers
    )
    client.put(users_url(acme, bob, "/roles"), json={"roles": ["admin"]}, headers=headers)
    client.patch(users_url(acme, bob), json={"is_active": False}, headers=headers)
    client.delete(users_url(acme, bob), headers=headers)

    assert [e.details for e in events(db, "user.updated")] == [{"changed": ["email", "password"]}]
    assert [e.details for e in events(db, "user.roles.changed")] == [{"from": ["member"], "to": ["admin"]}]
    assert [e.target_id for e in events(db, "user.deactivated")] == [str(bob.id)]
    assert [e.details for e in events(db, "user.deleted")] == [{"username": bob.username}]
    assert all(NEW_PASSWORD not in json.dumps(e.details) for e in db.scalars(select(AuditEvent)))


def test_a_change_failing_after_its_audit_row_leaves_neither(session, db, acme, admin, monkeypatch):
    bob = UserFactory(tenant=acme, roles=["member"])

    def flush_then_fail(a_session, user_ids):
        a_session.flush()  # the new memberships and the audit row are in the database now
        assert a_session.scalar(select(func.count()).select_from(AuditEvent)) == 1
        raise RuntimeError("the cache is down")

    monkeypatch.setattr(service, "invalidate_access_tokens", flush_then_fail)

    with pytest.raises(RuntimeError):
        service.replace_roles(session, acme.id, bob.id, principal_for(admin), ["admin"])

    assert role_names(db, bob) == ["member"]
    assert events(db, "user.roles.changed") == []


def test_a_duplicate_found_after_the_audit_row_was_added_leaves_neither(session, db, acme, admin, passwords):
    UserFactory(tenant=acme, username="erin")

    with pytest.raises(Conflict):
        service.create_user(
            session, passwords, acme.id, principal_for(admin), username="ERIN", password=NEW_PASSWORD
        )

    assert db.scalar(select(func.count()).select_from(User).where(User.username_key == "erin")) == 1
    assert events(db, "user.created") == []


# ----------------------------------------------------------------------------- races


def seed_committed(an_app):
    """Tenant acme with an admin and a member (`bob`), committed; returns their ids."""
    passwords = services(an_app).passwords
    with services(an_app).database.sessions() as seeding, seeding.begin():
        acme = create_tenant(seeding, "acme", "Acme")
        admin_role = builtin_role(seeding, acme, BuiltinRole.ADMIN)
        hashed = passwords.hash(PASSWORD)
        create_user(seeding, acme, "alice", hashed, roles=[admin_role])
        create_user(seeding, acme, "alice2", hashed, roles=[admin_role])
        create_user(seeding, acme, "bob", hashed, roles=[builtin_role(seeding, acme, BuiltinRole.MEMBER)])
        # Holds every permission through a custom role (the grant guards read the roles now).
        deputy_role = add_role(seeding, acme, "deputy", sorted(ADMIN))
        create_user(seeding, acme, "carol", hashed, roles=[deputy_role])
        ids = {u.username: u.id for u in seeding.scalars(select(User))}
        return acme.id, ids


def test_concurrent_creations_of_one_username_answer_one_201_and_one_409(committing_app):
    tenant_id, _ = seed_committed(committing_app)
    token = (
        committing_app.test_client()
        .post("/auth/login", json={"tenant": "acme", "username": "alice", "password": PASSWORD})
        .get_json()["access_token"]
    )
    start = threading.Barrier(2)

    def create(name: str) -> int:
        api = committing_app.test_client()
        start.wait()
        return api.post(
            f"/tenants/{tenant_id}/users",
            json={"username": name, "password": NEW_PASSWORD},
            headers=bearer(token),
        ).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(create, ["Racer", "racer"]))

    assert statuses == [201, 409]


def test_two_concurrent_demotions_cannot_both_pass(committing_app, monkeypatch):
    """The second demotion waits for the first (a row lock on PostgreSQL, the write lock on
    SQLite) and then counts the admins the first one left: none but its own target."""
    tenant_id, ids = seed_committed(committing_app)
    sessions = services(committing_app).database.sessions
    with sessions() as reading:
        carol = reading.get(User, ids["carol"])
        operator = principal_for(carol, reading)
    first_inside, release_first = threading.Event(), threading.Event()
    invalidate = service.invalidate_access_tokens

    def hold_the_first(a_session, user_ids):
        invalidate(a_session, user_ids)
        if threading.current_thread().name == "first":
            first_inside.set()  # its check passed, its demotion is flushed, not committed
            release_first.wait(10)

    monkeypatch.setattr(service, "invalidate_access_tokens", hold_the_first)

    def demote(user_id):
        with sessions() as a_session:
            try:
                service.replace_roles(a_session, tenant_id, user_id, operator, ["member"])
            except Conflict:
                return "conflict"
            return "demoted"

    results = {}
    first = threading.Thread(name="first", target=lambda: results.update(first=demote(ids["alice"])))
    second = threading.Thread(name="second", target=lambda: results.update(second=demote(ids["alice2"])))
    first.start()
    assert first_inside.wait(10)
    second.start()
    time.sleep(0.5)
    assert second.is_alive(), "the second demotion must wait for the first one's lock"
    release_first.set()
    first.join(10)
    second.join(10)

    assert results == {"first": "demoted", "second": "conflict"}
    with sessions() as reading:
        admins = reading.scalars(
            select(User.username)
            .join(UserRole, UserRole.user_id == User.id)
            .join(Role)
            .where(Role.name == "admin")
        ).all()
    assert admins == ["alice2"]


# ----------------------------------------------------------------------------- query counts


def bulk_users(db, tenant, numbers: range) -> None:
    """Members `bulk<n>` for each n, inserted in bulk."""
    bulk.users(db, tenant, numbers, role=builtin_role(db, tenant, BuiltinRole.MEMBER))
    db.flush()


@pytest.mark.parametrize(
    "query", ["?limit=100", "?limit=100&role=member", "?limit=100&q=BULK&is_active=true"]
)
def test_listing_costs_the_same_queries_for_10_and_1000_users(
    client, db, acme, headers, count_queries, query
):
    bulk_users(db, acme, range(10))
    client.get(users_url(acme), headers=headers)  # warms the token state cache for both counts
    with count_queries.counting():
        small = client.get(users_url(acme) + query, headers=headers)
    few = count_queries.count
    bulk_users(db, acme, range(10, 1000))
    with count_queries.counting():
        large = client.get(users_url(acme) + query, headers=headers)

    assert small.status_code == large.status_code == 200
    assert len(large.get_json()["items"]) == 100
    assert all(item["roles"] for item in large.get_json()["items"])
    assert count_queries.count == few, count_queries.statements
