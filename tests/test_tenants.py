"""Tenants: the platform's list and creation, each tenant's profile, renaming, suspension."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, insert, select

from app.audit import AuditAction
from app.provisioning import builtin_role, create_tenant, create_user
from app.services import services
from models import AuditEvent, Role, Tenant, utcnow
from policies import TENANT_PERMISSIONS, BuiltinRole, Permission
from tests.conftest import PASSWORD, bearer
from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory, TenantFactory, UserFactory

TENANT_FIELDS = {"id", "slug", "name", "status", "created_at"}


@pytest.fixture
def acme_member(acme):
    return UserFactory(tenant=acme, roles=["member"])


def without_decision_id(problem: dict) -> dict:
    """A denial's body minus the id of its own audit event, which differs per request."""
    return {key: value for key, value in problem.items() if key != "decision_id"}


def events(db, action: AuditAction) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action.value)))


# --- GET /tenants ---------------------------------------------------------------------------


def test_platform_admin_lists_every_tenant_oldest_first(client, acme, operator, auth_headers):
    globex = TenantFactory(slug="globex")

    response = client.get("/tenants", headers=auth_headers(operator))

    assert response.status_code == 200
    page = response.get_json()
    assert [t["slug"] for t in page["items"]] == ["acme", "platform", "globex"]
    assert page["items"][2] == {
        "id": str(globex.id),
        "slug": "globex",
        "name": globex.name,
        "status": "active",
        "created_at": page["items"][2]["created_at"],
    }
    assert page["next_cursor"] is None


def test_tenant_list_pages_through_every_tenant_once(client, operator, auth_headers):
    created = {t.slug for t in TenantFactory.create_batch(6)} | {"platform"}
    headers = auth_headers(operator)

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/tenants", query_string=query, headers=headers).get_json()
        seen += [t["slug"] for t in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert sorted(seen) == sorted(created)


def test_tenant_list_filters_by_status(client, acme, operator, auth_headers):
    TenantFactory(slug="dormant", status="suspended")

    page = client.get("/tenants?status=suspended", headers=auth_headers(operator)).get_json()

    assert [t["slug"] for t in page["items"]] == ["dormant"]


def test_tenant_admin_cannot_list_tenants(client, admin, auth_headers):
    response = client.get("/tenants", headers=auth_headers(admin))

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["platform:read"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("status=deleted", "status"),
        ("slug=acme", "slug"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_parameter(client, operator, auth_headers, query, field):
    response = client.get(f"/tenants?{query}", headers=auth_headers(operator))

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_tenant_list_costs_the_same_queries_with_10_and_1000_tenants(
    client, db, operator, auth_headers, count_queries
):
    TenantFactory.create_batch(9)
    headers = auth_headers(operator)

    def queries() -> int:
        client.get("/tenants?limit=100", headers=headers)  # warm: the token's state is loaded once
        with count_queries.counting():
            assert client.get("/tenants?limit=100", headers=headers).status_code == 200
        return count_queries.count

    small = queries()
    now = utcnow()
    rows = [
        {"id": uuid.uuid4(), "slug": f"bulk-{i}", "name": f"Bulk {i}", "status": "active"} for i in range(990)
    ]
    db.execute(insert(Tenant), [row | {"created_at": now} for row in rows])
    large = queries()

    assert small == large, count_queries.statements


# --- POST /tenants --------------------------------------------------------------------------


def test_platform_admin_creates_a_tenant(client, operator, auth_headers):
    response = client.post(
        "/tenants", json={"slug": "initech", "name": "Initech"}, headers=auth_headers(operator)
    )

    assert response.status_code == 201
    tenant = response.get_json()
    assert set(tenant) == TENANT_FIELDS
    assert (tenant["slug"], tenant["name"], tenant["status"]) == ("initech", "Initech", "active")
    assert response.headers["Location"] == f"/tenants/{tenant['id']}"


def test_a_new_tenant_has_its_builtin_roles_and_no_platform_role(client, db, operator, auth_headers):
    response = client.post(
        "/tenants", json={"slug": "initech", "name": "Initech"}, headers=auth_headers(operator)
    )

    roles = db.scalars(select(Role).where(Role.tenant_id == uuid.UUID(response.get_json()["id"])))
    assert {(r.name, r.builtin) for r in roles} == {("admin", True), ("member", True)}


def test_tenant_creation_is_audited_in_the_new_tenant(client, db, operator, auth_headers):
    response = client.post(
        "/tenants", json={"slug": "initech", "name": "Initech"}, headers=auth_headers(operator)
    )

    [created] = events(db, AuditAction.TENANT_CREATED)
    assert str(created.tenant_id) == created.target_id == response.get_json()["id"]
    assert created.actor_id == str(operator.id)
    assert created.details == {"slug": "initech", "name": "Initech"}


def test_tenant_admin_cannot_create_a_tenant(client, db, admin, auth_headers):
    response = client.post(
        "/tenants", json={"slug": "initech", "name": "Initech"}, headers=auth_headers(admin)
    )

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["platform:write"]
    assert db.scalars(select(Tenant).where(Tenant.slug == "initech")).first() is None


def test_a_taken_slug_is_a_409_and_changes_nothing(client, db, acme, operator, auth_headers):
    response = client.post(
        "/tenants", json={"slug": "acme", "name": "Acme Again"}, headers=auth_headers(operator)
    )

    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"
    assert events(db, AuditAction.TENANT_CREATED) == []


def test_the_platform_slug_is_reserved(client, operator, auth_headers):
    response = client.post(
        "/tenants", json={"slug": "platform", "name": "Shadow"}, headers=auth_headers(operator)
    )

    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": "slug", "message": "is reserved"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "No Slug"}, "slug"),
        ({"slug": "x", "name": "Too Short"}, "slug"),
        ({"slug": "x" * 64, "name": "Too Long"}, "slug"),
        ({"slug": "Acme", "name": "Uppercase"}, "slug"),
        ({"slug": "-acme", "name": "Leading Hyphen"}, "slug"),
        ({"slug": "acme\n", "name": "Trailing Newline"}, "slug"),
        ({"slug": "ac me", "name": "Space"}, "slug"),
        ({"slug": 42, "name": "Not A String"}, "slug"),
        ({"slug": "initech"}, "name"),
        ({"slug": "initech", "name": ""}, "name"),
        ({"slug": "initech", "name": "x" * 201}, "name"),
        ({"slug": "initech", "name": "bad\u202ename"}, "name"),
        ({"slug": "initech", "name": "bad\x07name"}, "name"),
        ({"slug": "initech", "name": "Initech", "status": "suspended"}, "status"),
        ({"slug": "initech", "name": "Initech", "id": str(uuid.uuid4())}, "id"),
    ],
    ids=[
        "slug missing",
        "slug too short",
        "slug too long",
        "slug uppercase",
        "slug leading hyphen",
        "slug trailing newline",
        "slug space",
        "slug not a string",
        "name missing",
        "name empty",
        "name too long",
        "name bidi override",
        "name control character",
        "status",
        "id",
    ],
)
def test_invalid_create_bodies_are_422_naming_the_field(client, operator, auth_headers, body, field):
    response = client.post("/tenants", json=body, headers=auth_headers(operator))

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


# --- GET /tenants/{tid} ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "member"])
def test_tenant_users_read_their_own_tenant(client, acme, auth_headers, role):
    user = UserFactory(tenant=acme, roles=[role])

    response = client.get(f"/tenants/{acme.id}", headers=auth_headers(user))

    assert response.status_code == 200
    assert response.get_json() == {
        "id": str(acme.id),
        "slug": "acme",
        "name": "Acme",
        "status": "active",
        "created_at": acme.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_another_tenant_is_a_404_exactly_like_a_missing_one(client, admin, auth_headers):
    globex = TenantFactory(slug="globex")
    headers = auth_headers(admin)

    foreign = client.get(f"/tenants/{globex.id}", headers=headers)
    missing = client.get(f"/tenants/{uuid.uuid4()}", headers=headers)

    assert foreign.status_code == missing.status_code == 404
    assert without_decision_id(foreign.get_json()) == without_decision_id(missing.get_json())


def test_platform_admin_reads_any_tenant(client, acme, operator, auth_headers):
    response = client.get(f"/tenants/{acme.id}", headers=auth_headers(operator))

    assert response.status_code == 200
    assert response.get_json()["slug"] == "acme"


def test_platform_admin_gets_a_404_for_a_missing_tenant(client, operator, auth_headers):
    response = client.get(f"/tenants/{uuid.uuid4()}", headers=auth_headers(operator))

    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/tenants"), ("POST", "/tenants"), ("GET", "/tenants/{tid}"), ("PATCH", "/tenants/{tid}")],
)
def test_every_tenant_route_needs_a_token(client, acme, method, path):
    response = client.open(path.format(tid=acme.id), method=method, json={"name": "Anonymous"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- PATCH /tenants/{tid}: renaming ---------------------------------------------------------


def test_tenant_admin_renames_own_tenant(client, db, acme, admin, auth_headers):
    response = client.patch(f"/tenants/{acme.id}", json={"name": "Acme Corp"}, headers=auth_headers(admin))

    assert response.status_code == 200
    assert response.get_json()["name"] == "Acme Corp"
    db.refresh(acme)
    assert acme.name == "Acme Corp"


def test_a_rename_is_audited_with_the_old_and_new_name(client, db, acme, admin, auth_headers):
    client.patch(f"/tenants/{acme.id}", json={"name": "Acme Corp"}, headers=auth_headers(admin))

    [renamed] = events(db, AuditAction.TENANT_UPDATED)
    assert (renamed.tenant_id, renamed.target_id, renamed.actor_id) == (
        acme.id,
        str(acme.id),
        str(admin.id),
    )
    assert renamed.details == {"name": {"from": "Acme", "to": "Acme Corp"}}


def test_a_patch_that_changes_nothing_records_nothing(client, db, acme, admin, auth_headers):
    response = client.patch(f"/tenants/{acme.id}", json={"name": "Acme"}, headers=auth_headers(admin))

    assert response.status_code == 200
    assert events(db, AuditAction.TENANT_UPDATED) == []


def test_member_cannot_rename_the_tenant(client, acme, acme_member, auth_headers):
    response = client.patch(f"/tenants/{acme.id}", json={"name": "Mine"}, headers=auth_headers(acme_member))

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["tenant:write"]


def test_tenant_admin_cannot_patch_another_tenant(client, db, admin, auth_headers):
    globex = TenantFactory(slug="globex", name="Globex")

    response = client.patch(f"/tenants/{globex.id}", json={"name": "Taken"}, headers=auth_headers(admin))

    assert response.status_code == 404
    db.refresh(globex)
    assert globex.name == "Globex"


def test_platform_admin_renames_any_tenant(client, acme, operator, auth_headers):
    response = client.patch(f"/tenants/{acme.id}", json={"name": "Renamed"}, headers=auth_headers(operator))

    assert response.status_code == 200
    assert response.get_json()["name"] == "Renamed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "bad\u202ename"}, "name"),
        ({"status": None}, "status"),
        ({"status": "deleted"}, "status"),
        ({"status": True}, "status"),
        ({"slug": "acme-2"}, "slug"),
        ({"name": "ok", "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
    ],
    ids=[
        "empty",
        "name null",
        "name empty",
        "name too long",
        "name bidi override",
        "status null",
        "status unknown",
        "status not a string",
        "slug is immutable",
        "created_at",
    ],
)
def test_invalid_update_bodies_are_422_naming_the_field(client, acme, operator, auth_headers, body, field):
    response = client.patch(f"/tenants/{acme.id}", json=body, headers=auth_headers(operator))

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


# --- PATCH /tenants/{tid}: suspension -------------------------------------------------------


def test_tenant_admin_sending_status_gets_403_naming_platform_write(client, db, acme, admin, auth_headers):
    body = {"name": "Sneaky", "status": "active"}

    response = client.patch(f"/tenants/{acme.id}", json=body, headers=auth_headers(admin))

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["platform:write"]
    db.refresh(acme)
    assert acme.name == "Acme"


def test_a_refused_status_change_is_audited_and_names_its_decision(client, db, acme, admin, auth_headers):
    response = client.patch(f"/tenants/{acme.id}", json={"status": "suspended"}, headers=auth_headers(admin))

    [refused] = events(db, AuditAction.ACCESS_DENIED)
    assert str(refused.id) == response.get_json()["decision_id"]
    assert (refused.tenant_id, refused.actor_id, refused.outcome) == (acme.id, str(admin.id), "denied")
    assert refused.details["required_permissions"] == ["platform:write"]


def test_status_needs_platform_write_whatever_else_the_caller_holds(client, db, acme):
    # An integration holding every tenant permission still may not suspend its tenant.
    integration = ClientFactory(tenant=acme, scopes=sorted(TENANT_PERMISSIONS))
    token = client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": integration.client_id,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
    ).get_json()["access_token"]

    response = client.patch(
        f"/tenants/{acme.id}", json={"status": "suspended"}, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == [Permission.PLATFORM_WRITE]
    assert response.get_json()["decision_id"]


def test_the_status_rule_is_declared_in_the_routes_policy(app):
    from policies import policy_of

    policy = policy_of(app.view_functions["tenants.update_tenant"])

    assert policy.field_permissions == (("status", Permission.PLATFORM_WRITE),)


def test_platform_admin_suspends_a_tenant(client, db, acme, operator, auth_headers):
    response = client.patch(
        f"/tenants/{acme.id}", json={"status": "suspended"}, headers=auth_headers(operator)
    )

    assert response.status_code == 200
    assert response.get_json()["status"] == "suspended"
    [suspended] = events(db, AuditAction.TENANT_SUSPENDED)
    assert (suspended.tenant_id, suspended.actor_id) == (acme.id, str(operator.id))
    assert suspended.details == {"status": {"from": "active", "to": "suspended"}}


def test_suspension_stops_the_tenants_tokens_on_the_next_request(client, acme, admin, operator, auth_headers):
    tenant_token = auth_headers(admin)
    assert client.get(f"/tenants/{acme.id}", headers=tenant_token).status_code == 200

    client.patch(f"/tenants/{acme.id}", json={"status": "suspended"}, headers=auth_headers(operator))
    response = client.get(f"/tenants/{acme.id}", headers=tenant_token)

    assert response.status_code == 403
    assert response.get_json()["code"] == "tenant_suspended"


def test_reactivation_restores_access_by_new_logins_and_is_audited(
    client, db, acme, admin, operator, auth_headers
):
    operator_token = auth_headers(operator)
    client.patch(f"/tenants/{acme.id}", json={"status": "suspended"}, headers=operator_token)

    response = client.patch(f"/tenants/{acme.id}", json={"status": "active"}, headers=operator_token)

    assert response.get_json()["status"] == "active"
    assert client.get(f"/tenants/{acme.id}", headers=auth_headers(admin)).status_code == 200
    [reactivated] = events(db, AuditAction.TENANT_REACTIVATED)
    assert reactivated.details == {"status": {"from": "suspended", "to": "active"}}


def test_reactivation_revives_no_token_issued_before_the_suspension(
    client, db, acme, admin, operator, login, auth_headers
):
    pair = login(admin)
    integration = ClientFactory(tenant=acme, owner=admin, scopes=["tenant:read"])
    credentials = {"client_id": integration.client_id, "client_secret": DEFAULT_CLIENT_SECRET}
    client_token = client.post(
        "/auth/token", data={"grant_type": "client_credentials", **credentials}
    ).get_json()["access_token"]
    for token in (pair["access_token"], client_token):
        assert client.get(f"/tenants/{acme.id}", headers=bearer(token)).status_code == 200
    operator_token = auth_headers(operator)
    client.patch(f"/tenants/{acme.id}", json={"status": "suspended"}, headers=operator_token)
    client.patch(f"/tenants/{acme.id}", json={"status": "active"}, headers=operator_token)

    answers = [
        client.get(f"/tenants/{acme.id}", headers=bearer(t)) for t in (pair["access_token"], client_token)
    ]
    refreshed = client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))
    new_client_token = client.post(
        "/auth/token", data={"grant_type": "client_credentials", **credentials}
    ).get_json()["access_token"]

    assert [(a.status_code, a.get_json()["code"]) for a in answers] == [(401, "token_revoked")] * 2
    assert refreshed.status_code == 401
    assert client.get(f"/tenants/{acme.id}", headers=bearer(new_client_token)).status_code == 200
    assert client.get(f"/tenants/{acme.id}", headers=auth_headers(admin)).status_code == 200


def test_the_platform_tenant_cannot_be_suspended(client, db, platform, operator, auth_headers):
    response = client.patch(
        f"/tenants/{platform.id}", json={"status": "suspended"}, headers=auth_headers(operator)
    )

    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"
    db.refresh(platform)
    assert platform.status == "active"


# --- atomicity: a change and its audit event commit together, or neither does ----------------


@pytest.fixture
def fail_after_audit(app) -> Iterator[Callable[[AuditAction], None]]:
    """Arm with an action: the next unit of work that writes it fails right after its audit
    event was flushed together with the change (the database then rolls both back)."""
    sessions = services(app).database.sessions
    armed: set[str] = set()

    def fail(session, _flush_context) -> None:
        if any(isinstance(obj, AuditEvent) and obj.action in armed for obj in session.new):
            armed.clear()
            raise RuntimeError("the database failed after the audit event was written")

    event.listen(sessions, "after_flush", fail)
    yield lambda action: armed.add(action.value)
    event.remove(sessions, "after_flush", fail)


def test_a_failed_creation_leaves_neither_the_tenant_nor_its_audit_event(
    client, db, operator, auth_headers, fail_after_audit
):
    headers = auth_headers(operator)
    fail_after_audit(AuditAction.TENANT_CREATED)

    response = client.post("/tenants", json={"slug": "initech", "name": "Initech"}, headers=headers)

    assert response.status_code == 500
    assert db.scalars(select(Tenant).where(Tenant.slug == "initech")).first() is None
    assert events(db, AuditAction.TENANT_CREATED) == []


def test_a_failed_rename_leaves_neither_the_change_nor_its_audit_event(
    client, db, acme, admin, auth_headers, fail_after_audit
):
    headers = auth_headers(admin)
    fail_after_audit(AuditAction.TENANT_UPDATED)

    response = client.patch(f"/tenants/{acme.id}", json={"name": "Lost"}, headers=headers)

    assert response.status_code == 500
    db.refresh(acme)
    assert acme.name == "Acme"
    assert events(db, AuditAction.TENANT_UPDATED) == []


# --- races, on a database that really commits -----------------------------------------------


def starts_writing(sql: str) -> bool:
    """SQLite's unit of work begins IMMEDIATE; on PostgreSQL the first lock or write is the start."""
    sql = sql.lstrip().upper()
    return sql.startswith(("BEGIN IMMEDIATE", "INSERT", "UPDATE")) or sql.endswith("FOR UPDATE")


@contextmanager
def both_start_writing_together(engine) -> Iterator[None]:
    """Hold two requests at the moment each starts to write until both are there: both have
    read (the token check) and neither has written, the interleaving a race needs, every time."""
    barrier, arrived, lock = threading.Barrier(2, timeout=10), set(), threading.Lock()

    def hold(_conn, _cursor, sql: str, *_args) -> None:
        if not starts_writing(sql):
            return
        with lock:
            first_write_of_this_request = threading.get_ident() not in arrived
            arrived.add(threading.get_ident())
        if first_write_of_this_request and len(arrived) <= 2:
            barrier.wait()

    event.listen(engine, "before_cursor_execute", hold)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", hold)


def operator_token(committing_app) -> str:
    """A platform admin on the committing database; returns their access token."""
    sessions = services(committing_app).database.sessions
    with committing_app.app_context(), sessions() as session:
        platform = create_tenant(session, "platform", "Platform")
        password_hash = services(committing_app).passwords.hash(PASSWORD)
        role = builtin_role(session, platform, BuiltinRole.PLATFORM_ADMIN)
        create_user(session, platform, "operator", password_hash, roles=[role])
        session.commit()
    login = {"tenant": "platform", "username": "operator", "password": PASSWORD}
    return committing_app.test_client().post("/auth/login", json=login).get_json()["access_token"]


def concurrently(committing_app, method: str, path: str, bodies: list[dict], token: str) -> list[int]:
    """Send each body from its own thread and test client; the statuses, in no order."""
    statuses: list[int] = []

    def send(body: dict) -> None:
        response = committing_app.test_client().open(path, method=method, json=body, headers=bearer(token))
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def test_concurrent_creations_of_one_slug_answer_201_and_409(committing_app):
    token = operator_token(committing_app)
    engine = services(committing_app).database.engine
    body = {"slug": "initech", "name": "Initech"}

    with both_start_writing_together(engine):
        statuses = concurrently(committing_app, "POST", "/tenants", [body, body], token)

    assert statuses == [201, 409]


def test_concurrent_renames_serialise_and_audit_a_consistent_history(committing_app):
    token = operator_token(committing_app)
    database = services(committing_app).database
    tenant_id = (
        committing_app.test_client()
        .post("/tenants", json={"slug": "initech", "name": "Initech"}, headers=bearer(token))
        .get_json()["id"]
    )
    bodies = [{"name": "First"}, {"name": "Second"}]

    with both_start_writing_together(database.engine):
        statuses = concurrently(committing_app, "PATCH", f"/tenants/{tenant_id}", bodies, token)

    assert statuses == [200, 200]
    with database.sessions() as session:
        renames = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "tenant.updated").order_by(AuditEvent.created_at)
        ).all()
        final_name = session.scalars(select(Tenant.name).where(Tenant.slug == "initech")).one()
    history = [(e.details["name"]["from"], e.details["name"]["to"]) for e in renames]
    assert history[0][0] == "Initech"
    assert history[0][1] == history[1][0]
    assert history[1][1] == final_name
