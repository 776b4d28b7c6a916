"""The audit log: one tenant's events, newest first, filtered, paged at a constant cost."""

from __future__ import annotations

import uuid
from datetime import timedelta, timezone

import factory
import pytest
from sqlalchemy import event, insert

from app.audit import AuditAction
from models import AuditEvent, utcnow
from tests.databases import is_postgres
from tests.factories import BaseFactory, TenantFactory, UserFactory

EVENT_FIELDS = {
    "id",
    "tenant_id",
    "created_at",
    "action",
    "outcome",
    "actor_type",
    "actor_id",
    "target_type",
    "target_id",
    "ip_address",
    "request_id",
    "details",
}


class AuditEventFactory(BaseFactory):
    """An audit event as `app.audit.record` writes it; `tenant=None` for one of no tenant."""

    class Meta:
        model = AuditEvent
        exclude = ("tenant",)

    tenant = factory.SubFactory(TenantFactory)
    tenant_id = factory.LazyAttribute(lambda o: o.tenant.id if o.tenant else None)
    action = AuditAction.PROJECT_CREATED.value
    outcome = "success"
    actor_id = None
    actor_type = factory.LazyAttribute(lambda o: "user" if o.actor_id else None)
    created_at = factory.LazyFunction(utcnow)
    details = factory.LazyFunction(dict)


@pytest.fixture
def list_events(client, acme, admin, auth_headers):
    """GET acme's audit events as its admin (logged in once); returns the page."""
    headers = auth_headers(admin)

    def get(**query) -> dict:
        response = client.get(f"/tenants/{acme.id}/audit-events", query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return get


def without_decision_id(problem: dict) -> dict:
    """A denial's body minus the id of its own audit event, which differs per request."""
    return {key: value for key, value in problem.items() if key != "decision_id"}


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["items"]]


def hours_ago(hours: float):
    return utcnow() - timedelta(hours=hours)


# --- who may read -----------------------------------------------------------------------------


def test_tenant_admin_reads_the_tenants_events_newest_first(acme, list_events):
    oldest = AuditEventFactory(tenant=acme, created_at=hours_ago(3))
    newest = AuditEventFactory(tenant=acme, created_at=hours_ago(1))
    middle = AuditEventFactory(tenant=acme, created_at=hours_ago(2))

    page = list_events(action="project.created")

    assert ids(page) == [str(newest.id), str(middle.id), str(oldest.id)]
    assert page["next_cursor"] is None


def test_an_event_shows_every_field_of_the_contract(acme, admin, list_events):
    written = AuditEventFactory(
        tenant=acme,
        action=AuditAction.USER_ROLES_CHANGED.value,
        actor_id=str(admin.id),
        target_type="user",
        target_id=str(admin.id),
        ip_address="192.0.2.7",
        request_id="req-42",
        details={"roles": {"from": ["member"], "to": ["admin"]}},
    )

    [shown] = list_events(action="user.roles.changed")["items"]

    assert set(shown) == EVENT_FIELDS
    assert shown == {
        "id": str(written.id),
        "tenant_id": str(acme.id),
        "created_at": shown["created_at"],
        "action": "user.roles.changed",
        "outcome": "success",
        "actor_type": "user",
        "actor_id": str(admin.id),
        "target_type": "user",
        "target_id": str(admin.id),
        "ip_address": "192.0.2.7",
        "request_id": "req-42",
        "details": {"roles": {"from": ["member"], "to": ["admin"]}},
    }


def test_member_without_audit_read_gets_403(client, acme, auth_headers):
    member = UserFactory(tenant=acme, roles=["member"])

    response = client.get(f"/tenants/{acme.id}/audit-events", headers=auth_headers(member))

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["audit:read"]


def test_anonymous_gets_401(client, acme):
    response = client.get(f"/tenants/{acme.id}/audit-events")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_another_tenants_audit_log_is_a_404_exactly_like_a_missing_one(client, globex, admin, auth_headers):
    AuditEventFactory(tenant=globex)
    headers = auth_headers(admin)

    foreign = client.get(f"/tenants/{globex.id}/audit-events", headers=headers)
    missing = client.get(f"/tenants/{uuid.uuid4()}/audit-events", headers=headers)

    assert foreign.status_code == missing.status_code == 404
    assert without_decision_id(foreign.get_json()) == without_decision_id(missing.get_json())


def test_the_list_never_shows_another_tenants_events(acme, globex, list_events):
    own = AuditEventFactory(tenant=acme)
    AuditEventFactory(tenant=globex)
    AuditEventFactory(tenant=None)

    page = list_events(limit=100)

    assert str(own.id) in ids(page)
    assert {item["tenant_id"] for item in page["items"]} == {str(acme.id)}


def test_platform_admin_reads_any_tenants_events_and_only_that_tenants(
    client, acme, globex, operator, auth_headers
):
    own = AuditEventFactory(tenant=acme)
    AuditEventFactory(tenant=globex)

    response = client.get(f"/tenants/{acme.id}/audit-events", headers=auth_headers(operator))

    assert response.status_code == 200
    assert ids(response.get_json()) == [str(own.id)]


def test_platform_admin_gets_a_404_for_a_missing_tenants_log(client, operator, auth_headers):
    response = client.get(f"/tenants/{uuid.uuid4()}/audit-events", headers=auth_headers(operator))

    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_tenant_changes_appear_in_the_tenants_own_log(client, acme, admin, auth_headers, list_events):
    client.patch(f"/tenants/{acme.id}", json={"name": "Acme Corp"}, headers=auth_headers(admin))

    [renamed] = list_events(action="tenant.updated")["items"]

    assert renamed["actor_id"] == str(admin.id)
    assert renamed["ip_address"] == "127.0.0.1"
    assert renamed["details"] == {"name": {"from": acme.name, "to": "Acme Corp"}}


# --- filters ----------------------------------------------------------------------------------


def test_filter_by_action_is_exact(acme, list_events):
    created = AuditEventFactory(tenant=acme, action="role.created")
    AuditEventFactory(tenant=acme, action="role.updated")

    assert ids(list_events(action="role.created")) == [str(created.id)]


def test_filter_by_actor(acme, list_events):
    actor = str(uuid.uuid4())
    theirs = AuditEventFactory(tenant=acme, actor_id=actor)
    AuditEventFactory(tenant=acme, actor_id=str(uuid.uuid4()))

    assert ids(list_events(actor_id=actor)) == [str(theirs.id)]


def test_filter_by_an_integrations_client_id(acme, list_events):
    issued = AuditEventFactory(tenant=acme, actor_type="client", actor_id="acme-ci")

    assert ids(list_events(actor_id="acme-ci")) == [str(issued.id)]


def test_filter_since_includes_that_instant_in_any_timezone(acme, list_events):
    cutoff = hours_ago(2)
    at_cutoff = AuditEventFactory(tenant=acme, created_at=cutoff)
    after = AuditEventFactory(tenant=acme, created_at=hours_ago(1))
    AuditEventFactory(tenant=acme, created_at=hours_ago(3))
    five_hours_behind_utc = cutoff.astimezone(timezone(timedelta(hours=-5))).isoformat()

    page = list_events(action="project.created", since=five_hours_behind_utc)

    assert ids(page) == [str(after.id), str(at_cutoff.id)]


def test_filters_combine(acme, list_events):
    actor = str(uuid.uuid4())
    match = AuditEventFactory(tenant=acme, action="user.deleted", actor_id=actor, created_at=hours_ago(1))
    AuditEventFactory(tenant=acme, action="user.deleted", actor_id=actor, created_at=hours_ago(5))
    AuditEventFactory(tenant=acme, action="user.created", actor_id=actor, created_at=hours_ago(1))
    AuditEventFactory(tenant=acme, action="user.deleted", created_at=hours_ago(1))

    page = list_events(action="user.deleted", actor_id=actor, since=hours_ago(2).isoformat())

    assert ids(page) == [str(match.id)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("action=project.exploded", "action"),
        ("action=", "action"),
        ("action=tenant.created&action=tenant.updated", "action"),
        ("actor_id=" + "x" * 65, "actor_id"),
        ("actor_id=", "actor_id"),
        ("actor_id=a%00b", "actor_id"),
        ("since=2026-01-01T00:00:00", "since"),
        ("since=2026-01-01", "since"),
        ("since=yesterday", "since"),
        ("since=1767225600", "since"),
        ("since=2026-01-01T00:00:00+01:00", "since"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("outcome=success", "outcome"),
    ],
    ids=[
        "unknown action",
        "empty action",
        "repeated action",
        "actor_id too long",
        "empty actor_id",
        "actor_id with a NUL",
        "since without timezone",
        "since a date",
        "since words",
        "since a unix timestamp",
        "since with an unencoded plus",
        "limit 0",
        "limit 101",
        "unknown filter",
    ],
)
def test_invalid_filters_are_422_naming_the_field(client, acme, admin, auth_headers, query, field):
    response = client.get(f"/tenants/{acme.id}/audit-events?{query}", headers=auth_headers(admin))

    assert response.status_code == 422
    assert response.get_json()["code"] == "validation_error"
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


# --- pages ------------------------------------------------------------------------------------


def test_pages_walk_newest_first_without_gaps_or_repeats_even_on_equal_times(acme, list_events):
    same_instant = hours_ago(1)
    written = AuditEventFactory.create_batch(7, tenant=acme, created_at=same_instant)
    written += AuditEventFactory.create_batch(3, tenant=acme, created_at=hours_ago(2))

    seen, cursor, pages = [], None, 0
    while True:
        page = list_events(action="project.created", limit=3, **({"cursor": cursor} if cursor else {}))
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 4
    assert sorted(item["id"] for item in seen) == sorted(str(e.id) for e in written)
    keys = [(item["created_at"], item["id"]) for item in seen]
    assert keys == sorted(keys, reverse=True)


# --- cost -------------------------------------------------------------------------------------


def bulk_events(db, tenant, count: int) -> None:
    start = utcnow() - timedelta(days=1)
    db.execute(
        insert(AuditEvent),
        [
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant.id,
                "created_at": start + timedelta(seconds=i),
                "action": "project.created",
                "outcome": "success",
                "details": {},
            }
            for i in range(count)
        ],
    )


@pytest.fixture
def queries_for(client, acme, admin, auth_headers, count_queries):
    """The number of queries one GET of acme's audit list costs (token state already loaded)."""
    headers = auth_headers(admin)
    url = f"/tenants/{acme.id}/audit-events"
    client.get(url, headers=headers)  # warm: the token's state is loaded once

    def count(**query) -> int:
        with count_queries.counting():
            response = client.get(url, query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        return count_queries.count

    return count


def test_the_list_costs_the_same_queries_with_10_and_1000_events(db, acme, queries_for):
    bulk_events(db, acme, 10)
    small = queries_for(limit=100)
    bulk_events(db, acme, 990)
    large = queries_for(limit=100)

    assert small == large


def test_a_deep_page_costs_the_same_queries_as_the_first(client, db, acme, list_events, queries_for):
    bulk_events(db, acme, 1000)
    cursor = None
    for _ in range(9):
        cursor = list_events(limit=100, **({"cursor": cursor} if cursor else {}))["next_cursor"]

    assert queries_for(limit=100) == queries_for(limit=100, cursor=cursor)


@pytest.fixture
def captured_audit_query(engine):
    """The audit list's page query exactly as the driver received it: (statement, parameters)."""
    captured: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement: str, parameters: object, *_args) -> None:
        if "FROM audit_events" in statement and "ORDER BY" in statement:
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    yield captured
    event.remove(engine, "before_cursor_execute", capture)


def plan_of(connection, statement: str, parameters: object) -> str:
    """The database's plan for the statement; PostgreSQL is told to avoid other ways first, so
    that a small test table shows which index can serve the query, not that a scan is cheaper."""
    if is_postgres():
        for setting in ("enable_seqscan", "enable_bitmapscan"):
            connection.exec_driver_sql(f"SET LOCAL {setting} = off")
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()
    else:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    return "\n".join(str(row[-1]) for row in rows)


def sorts(plan: str) -> bool:
    return "Sort" in plan if is_postgres() else "TEMP B-TREE" in plan


@pytest.mark.parametrize("deep", [False, True], ids=["first page", "page after a cursor"])
def test_a_page_is_read_in_order_from_the_tenant_time_index(
    db, connection, acme, list_events, captured_audit_query, deep
):
    bulk_events(db, acme, 50)
    cursor = list_events(limit=10)["next_cursor"] if deep else None
    captured_audit_query.clear()

    list_events(limit=10, **({"cursor": cursor} if cursor else {}))
    [(statement, parameters)] = captured_audit_query
    plan = plan_of(connection, statement, parameters)

    assert "ix_audit_events_tenant_id_created_at" in plan, plan
    assert not sorts(plan), plan
