"""Refused `POST /auth/token` requests cannot flood a tenant's audit log (issue 15, item 3):
the refusals of one client within a window are one `client.token.refused` event with a
count, as failed logins are; refusals of unknown client_ids share one event outside every
tenant. Anyone who knows a client_id can be refused, without any credential."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select

import app.audit
from app.clients.service import hash_client_secret
from app.provisioning import builtin_role, create_tenant, create_user
from app.services import services
from models import AuditEvent, Client, utcnow
from policies import BuiltinRole
from tests.conftest import PASSWORD
from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory
from tests.security.first_event_race import first_stalls_until_others_are_done
from tests.test_query_counts_hot_paths import assert_constant, cost_of

REFUSED = "client.token.refused"
_addresses = count(1)


def fresh_address() -> dict[str, dict[str, str]]:
    """A request from an address no other request of the run used (a botnet's next host)."""
    n = next(_addresses)
    return {"environ_base": {"REMOTE_ADDR": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}}


def token_request(client_id: str, secret: str = "a-wrong-secret", **extra: str) -> dict[str, Any]:
    return {
        "data": {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            **extra,
        },
        **fresh_address(),
    }


def refused_events(session, **where: Any) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == REFUSED)
    for column, value in where.items():
        column_of = getattr(AuditEvent, column)
        query = query.where(column_of.is_(None) if value is None else column_of == value)
    return list(session.scalars(query.order_by(AuditEvent.created_at)))


def test_fifty_refusals_of_one_client_are_one_event_counting_them(client, db, acme):
    reporting = ClientFactory(tenant=acme, scopes=["projects:read"])
    other = ClientFactory(tenant=acme, scopes=["projects:read"])
    for n in range(50):
        if n % 5 == 4:  # the right secret, a scope beyond the client's
            request = token_request(reporting.client_id, DEFAULT_CLIENT_SECRET, scope="users:write")
            assert client.post("/auth/token", **request).status_code == 400
        else:
            assert client.post("/auth/token", **token_request(reporting.client_id)).status_code == 401
    assert client.post("/auth/token", **token_request(other.client_id)).status_code == 401

    (counted,) = refused_events(db, target_id=str(reporting.id))
    assert counted.tenant_id == acme.id
    assert (counted.target_type, counted.outcome) == ("client", "failure")
    assert counted.details["count"] == 50
    assert counted.details["reasons"] == {"wrong_secret": 40, "invalid_scope": 10}
    assert counted.details["reason"] == "invalid_scope"  # the latest
    assert counted.details["requested"] == ["users:write"]  # that of the latest invalid scope
    assert counted.details["client_id"] == reporting.client_id
    last_at = datetime.fromisoformat(counted.details["last_at"]).replace(tzinfo=None)
    assert last_at >= counted.created_at.replace(tzinfo=None)
    assert "a-wrong-secret" not in str(counted.details)
    # Another client of the tenant is counted apart.
    (apart,) = refused_events(db, target_id=str(other.id))
    assert (apart.details["count"], apart.details["reasons"]) == (1, {"wrong_secret": 1})


def test_a_new_window_starts_a_new_event_and_every_refusal_is_counted(
    make_client, make_settings, db, acme, monkeypatch
):
    api = make_client(make_settings(token_refusal_audit_window_seconds=600))
    reporting = ClientFactory(tenant=acme, scopes=["projects:read"])
    start, now = utcnow(), [utcnow()]
    monkeypatch.setattr(app.audit, "utcnow", lambda: now[0])
    for minute in range(50):  # one a minute: 50 minutes, windows of 10 minutes
        now[0] = start + timedelta(minutes=minute)
        assert api.post("/auth/token", **token_request(reporting.client_id)).status_code == 401

    events = refused_events(db, target_id=str(reporting.id))
    assert 2 <= len(events) <= 12
    assert sum(e.details["count"] for e in events) == 50
    # Minutes 0-10 in the first event (a window reaches back from each refusal), 11-21, ...
    assert [e.details["count"] for e in events] == [11, 11, 11, 11, 6]


def test_unknown_client_ids_share_one_event_outside_every_tenant(client, db, acme):
    for n in range(50):
        assert client.post("/auth/token", **token_request(f"cli_nobody_{n}")).status_code == 401
    assert client.post("/auth/token", **token_request("cli_" + "x" * 200)).status_code == 401

    (counted,) = refused_events(db, tenant_id=None)
    assert (counted.target_type, counted.target_id) == ("client", None)
    assert counted.details["count"] == 51
    assert counted.details["reasons"] == {"unknown_client": 51}
    assert counted.details["client_id"] == "cli_" + "x" * 60  # the latest, cut to 64 characters
    assert refused_events(db, tenant_id=acme.id) == []


def test_refusals_cost_the_same_sql_however_many_came_before(client, db, acme, count_queries):
    reporting = ClientFactory(tenant=acme, scopes=["projects:read"])
    client.post("/auth/token", **token_request(reporting.client_id))  # the window's event exists
    second, _ = cost_of(
        client, count_queries, "POST", "/auth/token", status=401, **token_request(reporting.client_id)
    )
    for _ in range(48):
        client.post("/auth/token", **token_request(reporting.client_id))
    fiftieth, _ = cost_of(
        client, count_queries, "POST", "/auth/token", status=401, **token_request(reporting.client_id)
    )

    # The client with its tenant; the window's event, read and counted (in a transaction here,
    # as tests bind their sessions; a request's own session counts it in one UPDATE on PostgreSQL).
    assert_constant("POST /auth/token refused", {"2nd refusal": second, "50th refusal": fiftieth}, at_most=3)
    assert len(refused_events(db, target_id=str(reporting.id))) == 1


# --------------------------------------------------------------- concurrency (real commits)


def seed_client(committing_app) -> Client:
    """A tenant, its admin and a client of theirs, committed."""
    with services(committing_app).database.sessions() as session, session.begin():
        tenant = create_tenant(session, "acme", "Acme Corp")
        admin = create_user(
            session,
            tenant,
            "ada",
            services(committing_app).passwords.hash(PASSWORD),
            roles=[builtin_role(session, tenant, BuiltinRole.ADMIN)],
        )
        secret_key = services(committing_app).client_secret_key
        row = Client(
            tenant_id=tenant.id,
            client_id="cli_burst",
            name="Burst",
            secret_hash=hash_client_secret(DEFAULT_CLIENT_SECRET, secret_key),
            scopes=["projects:read"],
            created_by=admin.id,
        )
        session.add(row)
    return row


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def refuse(committing_app, client_id: str) -> int:
    return (
        committing_app.test_client()
        .post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers=basic(client_id, "a-wrong-secret"),
            **fresh_address(),
        )
        .status_code
    )


def test_a_concurrent_burst_of_refusals_is_one_event_counting_each(committing_app):
    burst = seed_client(committing_app)
    names = ["cli_burst"] * 30 + [f"cli_nobody_{n}" for n in range(10)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda name: refuse(committing_app, name), names))

    assert set(answers) == {401}
    with services(committing_app).database.sessions() as session:
        (known,) = refused_events(session, target_id=str(burst.id))
        (unknown,) = refused_events(session, tenant_id=None)
    assert known.details["count"] == 30
    assert known.details["reasons"] == {"wrong_secret": 30}
    assert unknown.details["count"] == 10


def test_concurrent_first_refusals_of_a_window_make_one_event(postgres_app):
    """The window's first refusals, arriving together, wait for the one that makes the event
    and count into it. Here the first one finds no event and stalls before making one until
    ten others are done (a few seconds at most)."""
    app_ = postgres_app
    seed_client(app_)
    first, others = first_stalls_until_others_are_done(
        app_, lambda: refuse(app_, "cli_burst"), lambda _: refuse(app_, "cli_burst")
    )

    assert first == 401
    assert set(others) == {401}
    with services(app_).database.sessions() as session:
        events = refused_events(session)
    assert [e.details["count"] for e in events] == [11]


@pytest.mark.parametrize("refusals", [1, 3])
def test_each_refusal_is_committed_before_its_answer(committing_app, refusals):
    """Seen from another connection as soon as the answer is out, counted: a wrong secret
    first, then scopes beyond the client's (refused after the owner's grants were read)."""
    seed_client(committing_app)
    assert refuse(committing_app, "cli_burst") == 401
    for _ in range(refusals - 1):
        beyond = committing_app.test_client().post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": "users:write"},
            headers=basic("cli_burst", DEFAULT_CLIENT_SECRET),
        )
        assert beyond.status_code == 400
    with services(committing_app).database.sessions() as session:
        (counted,) = refused_events(session, tenant_id=session.scalar(select(Client.tenant_id)))
    assert counted.details["count"] == refusals
    assert sum(counted.details["reasons"].values()) == refusals
