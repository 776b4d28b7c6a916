"""Attacks on login with the shipped defaults: brute force from one and from many addresses,
the throttled right password, the audit flood, the suspended-tenant oracle, enumeration by
answer or by time, and how the caller's address is found (issue 15)."""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import count

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, func, select

from app.provisioning import create_tenant
from app.services import services
from models import AuditEvent
from tests.conftest import PASSWORD, real_limits
from tests.factories import UserFactory
from tests.security.first_event_race import first_stalls_until_others_are_done

WRONG = "a-wrong-but-long-password"
FREE_FAILURES = 5  # the shipped login_backoff_free_failures
_addresses = count(1)


def fresh_address() -> dict[str, dict[str, str]]:
    """A request from an address no other request of the run used (a botnet's next host)."""
    n = next(_addresses)
    return {"environ_base": {"REMOTE_ADDR": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}}


def body(username="bob", password=WRONG, tenant="acme"):
    return {"tenant": tenant, "username": username, "password": password}


@pytest.fixture
def bob(acme):
    return UserFactory(tenant=acme, username="bob")


@pytest.fixture
def api(make_client, make_settings, db):
    """A client of an app with the real default limits (and memory or Redis counts of its own)."""
    return make_client(make_settings(**real_limits()))


@pytest.fixture(params=["memory", "redis"])
def api_any_storage(request, make_client, make_settings, db):
    """The same app with its counts in memory, and in Redis when the run has one."""
    if request.param == "memory":
        return make_client(make_settings(**real_limits()))
    redis_url = os.environ.get("AUTHZ_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("set AUTHZ_TEST_REDIS_URL (CI does) to count in Redis")
    prefix = f"test-{uuid.uuid4().hex[:8]}"  # fresh counts; nothing else in that Redis is touched
    return make_client(make_settings(**real_limits(), redis_url=redis_url, redis_prefix=prefix))


@pytest.fixture
def verifies(api, monkeypatch):
    return count_verifies(api, monkeypatch)


def count_verifies(api, monkeypatch):
    """How many argon2 verifies the app ran (instrumentation, not a stand-in)."""
    passwords = services(api.application).passwords
    calls = []
    original = passwords.verify

    def counted(password_hash, password):
        calls.append(1)
        return original(password_hash, password)

    monkeypatch.setattr(passwords, "verify", counted)
    return calls


def statuses(responses):
    return [r.status_code for r in responses]


def assert_rate_limited(response):
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1


def test_brute_force_from_one_address_is_throttled_and_the_right_password_too(
    api_any_storage, bob, monkeypatch
):
    api = api_any_storage
    verifies = count_verifies(api, monkeypatch)
    attempts = [api.post("/auth/login", json=body()) for _ in range(FREE_FAILURES + 1)]
    assert statuses(attempts) == [401] * (FREE_FAILURES + 1)
    verified = len(verifies)

    throttled = api.post("/auth/login", json=body())
    right_password = api.post("/auth/login", json=body(password=PASSWORD))

    assert_rate_limited(throttled)
    assert_rate_limited(right_password)  # throttling cannot be used to test a guess
    assert len(verifies) == verified  # refused before any argon2 work


def test_a_botnet_gets_no_more_guesses_per_account_than_one_address(api_any_storage, bob, monkeypatch):
    api = api_any_storage
    verifies = count_verifies(api, monkeypatch)
    answers = [api.post("/auth/login", json=body(), **fresh_address()) for _ in range(30)]

    assert statuses(answers) == [401] * (FREE_FAILURES + 1) + [429] * (30 - FREE_FAILURES - 1)
    assert len(verifies) == FREE_FAILURES + 1
    assert_rate_limited(api.post("/auth/login", json=body(password=PASSWORD), **fresh_address()))


def test_one_address_trying_many_accounts_meets_the_address_limit(api, acme):
    address = fresh_address()
    answers = [api.post("/auth/login", json=body(username=f"user{n}"), **address) for n in range(31)]

    assert statuses(answers) == [401] * 30 + [429]  # login_limit_per_address: 30 per minute
    assert_rate_limited(answers[-1])
    assert api.post("/auth/login", json=body(username="user99"), **fresh_address()).status_code == 401


def test_the_tutorial_login_shares_the_counts(api, bob):
    for _ in range(FREE_FAILURES + 1):
        api.post("/auth/login", json=body(), **fresh_address())

    alias = api.post("/login", json=body(password=PASSWORD), **fresh_address())

    assert_rate_limited(alias)


def test_backoff_is_not_a_lockout_and_success_resets_it(make_client, make_settings, bob):
    settings = make_settings(
        **{**real_limits(), "login_backoff_base_seconds": 0.4, "login_backoff_max_seconds": 1.0}
    )
    api = make_client(settings)
    waits = []
    for _ in range(FREE_FAILURES + 6):
        answer = api.post("/auth/login", json=body(), **fresh_address())
        if answer.status_code == 429:
            waits.append(int(answer.headers["Retry-After"]))
            time.sleep(1.05)  # the owner waits out the backoff: never longer than its cap

    assert waits
    assert max(waits) <= 1
    time.sleep(1.05)
    assert api.post("/auth/login", json=body(password=PASSWORD), **fresh_address()).status_code == 200
    # The success cleared the count: without that, the next failure would wait again.
    again = [api.post("/auth/login", json=body(), **fresh_address()) for _ in range(2)]
    assert statuses(again) == [401, 401]


def comparable(response):
    headers = {k for k, _ in response.headers if k not in {"X-Request-ID", "Content-Length"}}
    data = response.get_json()
    return response.status_code, data, headers


def test_unknown_user_and_wrong_password_look_the_same_even_when_throttled(api, bob):
    unknown, wrong = [], []
    for _ in range(FREE_FAILURES + 3):
        unknown.append(api.post("/auth/login", json=body(username="nobody"), **fresh_address()))
        wrong.append(api.post("/auth/login", json=body(), **fresh_address()))

    # The same statuses in the same order: the backoff is keyed by the name, not the user.
    assert statuses(unknown) == statuses(wrong) == [401] * (FREE_FAILURES + 1) + [429, 429]
    for a, b in zip(unknown, wrong, strict=True):
        assert comparable(a) == comparable(b)


def test_the_audit_log_cannot_be_flooded(make_client, make_settings, db, acme, bob):
    # Backoff off, so that all 50 guesses are real failures that reach the audit step.
    loose = {"login_backoff_free_failures": 1000, "login_limit_per_account": "1000 per minute"}
    api = make_client(make_settings(**{**real_limits(), **loose}))
    for _ in range(50):
        assert api.post("/auth/login", json=body(), **fresh_address()).status_code == 401

    events = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "auth.login.failed", AuditEvent.target_id == str(bob.id)
        )
    ).all()
    assert 1 <= len(events) <= 12
    assert sum(e.details["count"] for e in events) == 50
    assert events[0].details["reasons"] == {"wrong_password": 50}


def test_unknown_names_of_a_tenant_share_one_event(api, db, acme):
    for n in range(20):
        api.post("/auth/login", json=body(username=f"ghost{n}"), **fresh_address())

    events = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.login.failed", AuditEvent.tenant_id == acme.id)
    ).all()
    assert len(events) == 1
    assert events[0].details["count"] == 20


def rate_limited_count(limit: str) -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "authz_rate_limited"
        for sample in metric.samples
        if sample.name == "authz_rate_limited_total" and sample.labels["limit"] == limit
    )


def test_throttled_attempts_are_counted_in_metrics_not_audited(api, db, bob):
    before = rate_limited_count("login:account")
    audit_before = db.scalar(select(func.count()).select_from(AuditEvent))
    answers = [api.post("/auth/login", json=body(), **fresh_address()) for _ in range(20)]

    throttled = statuses(answers).count(429)
    assert throttled == 20 - FREE_FAILURES - 1
    assert rate_limited_count("login:account") - before == throttled
    assert db.scalar(select(func.count()).select_from(AuditEvent)) - audit_before <= 1
    assert "authz_rate_limited_total" in api.get("/metrics").get_data(as_text=True)


def test_a_suspended_tenant_is_no_password_oracle(api, db, acme, bob, verifies):
    acme.status = "suspended"
    db.flush()

    right = api.post("/auth/login", json=body(password=PASSWORD), **fresh_address())
    wrong = api.post("/auth/login", json=body(), **fresh_address())

    assert right.status_code == wrong.status_code == 401
    assert comparable(right) == comparable(wrong)
    assert len(verifies) == 2  # the same cost: one verify each
    event = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "auth.login.failed", AuditEvent.target_id == str(bob.id)
        )
    ).one()
    assert event.details["reasons"] == {"tenant_suspended": 1, "wrong_password": 1}


def interleaved_medians(kinds, rounds=30):
    """Per kind, the median over rounds of its time divided by the round's mean time.

    Each round sends one request of every kind, in a new random order, back to back: a
    load change on a shared machine shifts a whole round, and dividing by the round's
    mean cancels it, where comparing raw medians would compare different moments."""
    relative = {name: [] for name in kinds}
    order = list(kinds)
    for n in range(rounds):
        random.shuffle(order)
        took = {}
        for name in order:
            started = time.perf_counter()
            kinds[name](n)
            took[name] = time.perf_counter() - started
        mean = statistics.fmean(took.values())
        for name, seconds in took.items():
            relative[name].append(seconds / mean)
    return {name: statistics.median(values) for name, values in relative.items()}


def test_unknown_user_wrong_password_and_throttled_account_take_the_same_time(
    make_client, make_settings, acme, bob
):
    """Within 10% in median over 30 interleaved tries. A throttled answer does no argon2 work:
    it waits as long as recent failures took. On a noisy machine the comparison is repeated
    (at most three times): noise can only make honest paths look different, never alike."""
    # The defaults but a longer first wait, so that the account stays throttled throughout.
    api = make_client(make_settings(**{**real_limits(), "login_backoff_base_seconds": 600.0}))
    # Enough victims that none leaves the free failures; each has failed once already, so
    # every measured failure adds to an existing audit event, as the unknown names do.
    victims = [UserFactory(tenant=acme, username=f"victim{n}") for n in range(24)]
    for victim in victims:
        api.post("/auth/login", json=body(username=victim.username), **fresh_address())
    api.post("/auth/login", json=body(username="nobody"), **fresh_address())
    for _ in range(FREE_FAILURES + 1):
        api.post("/auth/login", json=body(), **fresh_address())
    assert api.post("/auth/login", json=body(), **fresh_address()).status_code == 429
    unknown_names, victim_turns = count(), count()  # round robin: each victim stays under the backoff

    def unknown_user(n):
        name = f"nobody{next(unknown_names)}"
        assert api.post("/auth/login", json=body(username=name), **fresh_address()).status_code == 401

    def wrong_password(n):
        name = victims[next(victim_turns) % len(victims)].username
        assert api.post("/auth/login", json=body(username=name), **fresh_address()).status_code == 401

    def throttled_account(n):
        assert api.post("/auth/login", json=body(), **fresh_address()).status_code == 429

    kinds = {"unknown": unknown_user, "wrong": wrong_password, "throttled": throttled_account}
    interleaved_medians(kinds, rounds=5)  # warm-up: caches, the pace of recent failures
    for _ in range(3):
        medians = interleaved_medians(kinds)
        spread = max(medians.values()) / min(medians.values())
        if spread < 1.10:
            break
    assert spread < 1.10, medians


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(make_client, make_settings, acme):
    direct = make_client(make_settings(**real_limits()))
    spoofed = [
        direct.post("/auth/login", json=body(username=f"u{n}"), headers={"X-Forwarded-For": f"192.0.2.{n}"})
        for n in range(31)
    ]
    assert statuses(spoofed)[-1] == 429  # one socket address, however many forwarded ones

    proxied = make_client(make_settings(**real_limits(), trusted_proxy_count=1))
    behind_proxy = [
        proxied.post("/auth/login", json=body(username=f"u{n}"), headers={"X-Forwarded-For": f"192.0.2.{n}"})
        for n in range(31)
    ]
    assert 429 not in statuses(behind_proxy)  # the proxy's entry is each client's own address


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_an_attempt_without_a_verdict_is_not_counted(storage):
    """An attempt that met a database outage (503) got no verdict: it is refunded, so the
    users who retried through an outage are not throttled after it. Real counts, both stores."""
    from app.security.login_backoff import BackoffPolicy, MemoryBackoff, RedisBackoff

    policy = BackoffPolicy(free_failures=2, base_seconds=60, max_seconds=60, forget_seconds=900)
    if storage == "redis":
        url = os.environ.get("AUTHZ_TEST_REDIS_URL")
        if not url:
            pytest.skip("set AUTHZ_TEST_REDIS_URL (CI does) to test with Redis")
        store = RedisBackoff(url, f"test-{uuid.uuid4().hex}", policy)
    else:
        store = MemoryBackoff(policy)
    account = f"account-{uuid.uuid4().hex}"

    for _ in range(10):  # ten attempts that each met the outage
        assert store.admit(account) == 0
        store.refund(account)
    assert store.admit(account) == 0  # a real failure now: the first counted one
    assert store.admit(account) == 0  # the second: still free
    assert store.admit(account) == 0  # the third is counted and sets the wait
    assert store.admit(account) > 0


def test_a_stalled_failed_login_holds_up_no_other_failure_of_its_account(postgres_app):
    """Unknown names of a tenant share one audit event. Were its row locked across round
    trips (lock, update, commit), a worker busy elsewhere between them (a gevent worker
    running another request's argon2) would keep every other unknown name waiting, while an
    existing user's failure, counted in an event of its own, answers at once: under a flood
    an unknown name would answer slower, an enumeration oracle. Here one failure stalls
    after each statement it sends on the audit table; another still answers at once."""
    app = postgres_app
    with services(app).database.sessions() as session, session.begin():
        create_tenant(session, "acme", "Acme Corp")
    failed = app.test_client().post("/auth/login", json=body(username="ghost0"))
    assert failed.status_code == 401  # the tenant's event for unknown names exists now
    stalled, release = threading.Event(), threading.Event()
    stalling_thread = []

    def stall_after_audit_statements(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() in stalling_thread and "audit_events" in statement:
            stalled.set()
            release.wait(timeout=10)

    engine = services(app).database.engine
    event.listen(engine, "after_cursor_execute", stall_after_audit_statements)
    try:

        def stalled_failure():
            stalling_thread.append(threading.get_ident())
            return app.test_client().post("/auth/login", json=body(username="ghost1")).status_code

        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(stalled_failure)
            assert stalled.wait(timeout=10)
            started = time.perf_counter()
            other = app.test_client().post("/auth/login", json=body(username="ghost2"))
            took = time.perf_counter() - started
            release.set()
            assert first.result(timeout=20) == 401
    finally:
        release.set()
        event.remove(engine, "after_cursor_execute", stall_after_audit_statements)

    assert other.status_code == 401
    assert took < 1.5, f"waited {took:.1f} s for a stalled failure's lock"
    with services(app).database.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login.failed")).all()
    assert [e.details["count"] for e in events] == [3]  # all three counted, in one event
    assert events[0].details["reasons"] == {"unknown_user": 3}


def test_concurrent_first_failures_of_a_window_make_one_event(postgres_app):
    """The window's first failures, arriving together, wait for the one that makes the event
    and count into it: one event, not one each. Here the first one finds no event and stalls
    before making one until ten others are done (a few seconds at most)."""
    app = postgres_app
    with services(app).database.sessions() as session, session.begin():
        create_tenant(session, "acme", "Acme Corp")

    def failure(name: str) -> int:
        return app.test_client().post("/auth/login", json=body(username=name)).status_code

    first, others = first_stalls_until_others_are_done(
        app, lambda: failure("ghost"), lambda n: failure(f"ghost{n}")
    )

    assert first == 401
    assert set(others) == {401}
    with services(app).database.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login.failed")).all()
    assert [e.details["count"] for e in events] == [11]
