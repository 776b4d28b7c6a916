"""A stopped or frozen database (issue 18, items 1 and 2): every route that needs it answers
503 problem+json with Retry-After within about the configured bound, nothing hangs, and the
service recovers on its own when the database is back.

The service runs with the README's production command against a PostgreSQL cluster of the
test's own, which the test stops (pg_ctl) and freezes (SIGSTOP on every server process).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy.exc

from app import create_app
from app.database import database
from app.database_bounds import CONNECT_TIMEOUT_SECONDS, FAIL_FAST_SECONDS
from app.provisioning import builtin_role, create_tenant, create_user
from app.security import passwords
from app.services import services
from policies import BuiltinRole
from tests.databases import fresh_database, upgrade
from tests.servers import CLIENT_SECRET_KEY, production_server, seeding_app

PASSWORD = "fault-test-password"
DATABASE_TIMEOUT = 2.0
# Nothing may take longer than one bounded wait plus one bounded connect: no hang.
WORST_CASE_SECONDS = DATABASE_TIMEOUT + CONNECT_TIMEOUT_SECONDS


@dataclass
class Answer:
    status: int
    body: dict
    headers: dict
    seconds: float


def call(method: str, url: str, token: str | None = None, body: dict | None = None) -> Answer:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback only
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw, status, headers = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, headers = error.read(), error.code, dict(error.headers)
    seconds = time.monotonic() - started
    return Answer(status, json.loads(raw) if raw else {}, headers, seconds)


@pytest.fixture(scope="module")
def service(own_postgres, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dbfaults")
    url = own_postgres.new_database("faults")
    env = {
        "AUTHZ_DATABASE_URL": url,
        "AUTHZ_KEY_DIR": str(tmp / "keys"),
        "AUTHZ_ISSUER": "https://faults.test",
        "AUTHZ_CLIENT_SECRET_KEY": CLIENT_SECRET_KEY,
        "AUTHZ_DATABASE_TIMEOUT": str(DATABASE_TIMEOUT),
        # The recovery loop logs in many times a second from one address.
        "AUTHZ_LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
        "AUTHZ_TOKEN_LIMIT_PER_ADDRESS": "100000 per minute",
        "AUTHZ_TOKEN_LIMIT_PER_CLIENT": "100000 per minute",
    }
    seeder = seeding_app(url, tmp / "keys", "https://faults.test")
    with seeder.app_context(), database().sessions() as session:
        tenant = create_tenant(session, "acme", "Acme")
        create_user(
            session,
            tenant,
            "alice",
            passwords().hash(PASSWORD),
            roles=[builtin_role(session, tenant, BuiltinRole.ADMIN)],
        )
        session.commit()
        tenant_id = str(tenant.id)
    services(seeder).database.engine.dispose()
    with production_server(env, tmp / "server.log", workers=2) as base:
        # An integration (a policy enforcement point) for the token endpoint and decisions.
        scopes = ["decisions:evaluate", "projects:read"]
        made = call(
            "POST",
            f"{base}/tenants/{tenant_id}/clients",
            login(base)["access_token"],
            {"name": "pep", "scopes": scopes},
        )
        assert made.status == 201, made.body
        yield (
            base,
            tenant_id,
            {"client_id": made.body["client_id"], "client_secret": made.body["client_secret"]},
        )


def login(base: str, integration: dict | None = None) -> dict:
    """Alice's pair and, given an integration, a client-credentials token of it."""
    answer = call(
        "POST", f"{base}/auth/login", body={"tenant": "acme", "username": "alice", "password": PASSWORD}
    )
    assert answer.status == 200, answer.body
    if integration is None:
        return answer.body
    issued = call("POST", f"{base}/auth/token", body={"grant_type": "client_credentials", **integration})
    assert issued.status == 200, issued.body
    return {**answer.body, "client_token": issued.body["access_token"], "integration": integration}


DECISION = {
    "subject": {"type": "user", "id": "alice"},
    "action": {"name": "read"},
    "resource": {"type": "projects", "id": "p"},
}


def routes(base: str, tenant_id: str, tokens: dict) -> list[tuple[str, str, str | None, dict | None]]:
    """Routes of every kind that need the database: login, token checks, reads, writes, the
    token endpoint, decisions, probes."""
    access = tokens["access_token"]
    return [
        ("POST", f"{base}/auth/login", None, {"tenant": "acme", "username": "alice", "password": PASSWORD}),
        ("POST", f"{base}/auth/refresh", tokens["refresh_token"], None),
        ("GET", f"{base}/auth/me", access, None),
        ("GET", f"{base}/permissions", access, None),
        ("GET", f"{base}/tenants/{tenant_id}/users", access, None),
        ("POST", f"{base}/tenants/{tenant_id}/projects", access, {"name": f"project {uuid.uuid4().hex[:8]}"}),
        ("POST", f"{base}/auth/token", None, {"grant_type": "client_credentials", **tokens["integration"]}),
        ("POST", f"{base}/access/v1/evaluation", tokens["client_token"], DECISION),
        ("GET", f"{base}/readyz", None, None),
    ]


def assert_every_route_is_a_quick_503(
    base: str, tenant_id: str, tokens: dict, rounds: int = 2, within: float = WORST_CASE_SECONDS
) -> list[float]:
    seen = []
    for _ in range(rounds):  # more than the first request per worker
        for method, url, token, body in routes(base, tenant_id, tokens):
            answer = call(method, url, token, body)
            assert answer.status == 503, (url, answer.status, answer.body)
            assert answer.headers["Content-Type"].startswith(
                "application/problem+json" if not url.endswith("/readyz") else "application/json"
            )
            if not url.endswith("/readyz"):
                assert answer.body["code"] == "service_unavailable"
                assert int(answer.headers["Retry-After"]) > 0
            assert answer.seconds < within, (url, answer.seconds)
            seen.append(answer.seconds)
    return seen


def served(base: str, tenant_id: str) -> bool:
    """A fresh login and a protected read both succeed."""
    answer = call(
        "POST", f"{base}/auth/login", body={"tenant": "acme", "username": "alice", "password": PASSWORD}
    )
    # Attempts that met the outage got no verdict: they must not throttle the account after it.
    assert answer.status != 429, "an outage counted against the account's login backoff"
    if answer.status != 200:
        return False
    return call("GET", f"{base}/tenants/{tenant_id}/users", answer.body["access_token"]).status == 200


def wait_until_served(base: str, tenant_id: str) -> float:
    """Seconds until every worker serves again.

    A worker whose wait timed out during the outage fails fast for FAIL_FAST_SECONDS after
    its last timeout, by design, even if the database is back by then: so recovery is the
    start of a run of successes that lasts longer than that window (any worker's failure
    inside it starts the run again).
    """
    started = time.monotonic()
    streak_started: float | None = None
    while time.monotonic() - started < 30:
        if not served(base, tenant_id):
            streak_started = None
        elif streak_started is None:
            streak_started = time.monotonic()
        elif time.monotonic() - streak_started > FAIL_FAST_SECONDS + 0.5:
            return streak_started - started
        time.sleep(0.05)
    pytest.fail("the service did not recover within 30 s of the database coming back")


def assert_all_served(base: str, tenant_id: str, integration: dict) -> None:
    tokens = login(base, integration)
    for method, url, token, body in routes(base, tenant_id, tokens):
        if url.endswith("/auth/refresh"):
            continue  # used above by routes(); a fresh pair is tested through login
        answer = call(method, url, token, body)
        assert answer.status in (200, 201), (url, answer.status, answer.body)


def test_a_stopped_database_is_a_quick_503_everywhere_and_the_service_recovers(service, own_postgres):
    base, tenant_id, integration = service
    tokens = login(base, integration)
    assert_all_served(base, tenant_id, integration)  # pools warm, connections cached

    own_postgres.stop()
    try:
        # A refused connection is no wait: well within the 2 s.
        timings = assert_every_route_is_a_quick_503(base, tenant_id, tokens, within=DATABASE_TIMEOUT)
    finally:
        own_postgres.start()
    recovery = wait_until_served(base, tenant_id)

    assert_all_served(base, tenant_id, integration)
    print(f"stopped: slowest 503 {max(timings):.2f}s; recovered {recovery:.2f}s after the restart")


def test_a_frozen_database_is_a_503_within_the_bound_readiness_included(service, own_postgres):
    base, tenant_id, integration = service
    tokens = login(base, integration)
    assert_all_served(base, tenant_id, integration)

    own_postgres.pause()
    try:
        # One round: each request may pay the whole bound, and two workers share nine routes.
        timings = assert_every_route_is_a_quick_503(base, tenant_id, tokens, rounds=1)
    finally:
        own_postgres.resume()
    recovery = wait_until_served(base, tenant_id)

    assert_all_served(base, tenant_id, integration)
    print(f"frozen: 503s in {[round(t, 2) for t in timings]}; recovered {recovery:.2f}s after SIGCONT")


def test_a_request_that_waits_out_the_pool_is_a_503_within_the_bound(tmp_path, make_settings):
    """Every pooled connection busy (each held by a request stuck on a lock or a frozen
    server): the next request gives up after the pool timeout with a 503, not a 500."""
    bound = 0.5
    with fresh_database(tmp_path, "pool") as url:
        upgrade(url)
        app = create_app(make_settings(database_url=url, database_timeout=bound), TESTING=True)
        engine = services(app).database.engine
        with app.app_context(), database().sessions() as session:
            tenant = create_tenant(session, "acme", "Acme")
            create_user(session, tenant, "alice", passwords().hash(PASSWORD))
            session.commit()
        api = app.test_client()
        body = {"tenant": "acme", "username": "alice", "password": PASSWORD}
        token = api.post("/auth/login", json=body).get_json()["access_token"]
        held = []
        try:
            while True:  # take every slot the pool has, overflow included
                held.append(engine.connect())
        except sqlalchemy.exc.TimeoutError:
            pass
        try:
            answers = []
            for method, path, headers in [
                ("GET", "/auth/me", {"Authorization": f"Bearer {token}"}),  # the epoch's reader
                ("POST", "/auth/login", {}),  # a session's checkout
            ]:
                started = time.monotonic()
                response = api.open(
                    path, method=method, headers=headers, json=body if method == "POST" else None
                )
                answers.append((path, response, time.monotonic() - started))
        finally:
            for connection in held:
                connection.close()
            engine.dispose()

    for path, response, seconds in answers:
        assert response.status_code == 503, (path, response.get_json())
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] == "service_unavailable"
        assert int(response.headers["Retry-After"]) > 0
        assert seconds < bound + 1.0, (path, seconds)
