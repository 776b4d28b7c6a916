"""Rate limits beside login: the token endpoint (per address and client_id; its 429 is a
problem that RFC 6749 clients read too),
current-password guesses with a stolen token (per session), refresh and introspection (per
caller). Refused before any secret or password is checked (issue 15)."""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import create_app
from app.provisioning import builtin_role, create_tenant, create_user
from app.services import services
from policies import BuiltinRole
from tests.conftest import PASSWORD, bearer, real_limits
from tests.databases import fresh_database, upgrade
from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory, UserFactory

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def api(make_client, make_settings, db):
    return make_client(make_settings(**real_limits()))


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def assert_token_endpoint_429(answer) -> None:
    """The contract's 429 (API.md, Rate limits: problem+json `rate_limited`, Retry-After) that
    also carries RFC 6749 §5.2's members, which OAuth clients read: `slow_down`."""
    assert answer.status_code == 429
    assert answer.mimetype == "application/problem+json"
    retry_after = int(answer.headers["Retry-After"])
    assert retry_after >= 1
    description = f"Too many requests; retry after {retry_after} seconds."
    assert answer.get_json() == {
        "type": "https://authz.test/docs/problems#rate_limited",
        "title": "Too Many Requests",
        "status": 429,
        "detail": description,
        "code": "rate_limited",
        "error": "slow_down",
        "error_description": description,
    }
    assert answer.headers["Cache-Control"] == "no-store"  # RFC 6749 §5.1
    assert answer.headers["Pragma"] == "no-cache"


def test_token_endpoint_limits_a_client_id(api, acme):
    integration = ClientFactory(tenant=acme)
    wrong = basic(integration.client_id, "not-the-secret")
    # From many addresses: the client_id's own count (60 per minute) is what stops them.
    answers = [
        api.post("/auth/token", data=GRANT, headers=wrong, environ_base={"REMOTE_ADDR": f"10.9.0.{n}"})
        for n in range(60)
    ]
    assert {a.status_code for a in answers} == {401}

    right = api.post(
        "/auth/token",
        data=GRANT,
        headers=basic(integration.client_id, DEFAULT_CLIENT_SECRET),
        environ_base={"REMOTE_ADDR": "10.9.1.1"},
    )

    assert_token_endpoint_429(right)  # the right secret too: no oracle, no secret check


def test_token_endpoint_limits_an_address(api, acme):
    answers = [
        api.post("/auth/token", data=GRANT, headers=basic(f"cli_unknown_{n}", "whatever")) for n in range(61)
    ]

    assert [a.status_code for a in answers] == [401] * 60 + [429]
    assert_token_endpoint_429(answers[-1])


@pytest.fixture(params=["memory", "redis"])
def limit_storage(request) -> dict[str, str]:
    """Where the counts live: the process's memory, or Redis under a prefix of the test's own."""
    if request.param == "memory":
        return {}
    redis_url = os.environ.get("AUTHZ_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("set AUTHZ_TEST_REDIS_URL (CI does) to count in Redis")
    return {"redis_url": redis_url, "redis_prefix": f"test-{uuid.uuid4().hex[:8]}"}


def test_the_token_endpoints_429_is_the_same_problem_on_either_storage(
    make_client, make_settings, acme, limit_storage
):
    api = make_client(
        make_settings(**{**real_limits(), "token_limit_per_client": "2 per minute"}, **limit_storage)
    )
    integration = ClientFactory(tenant=acme)
    right = basic(integration.client_id, DEFAULT_CLIENT_SECRET)

    answers = [api.post("/auth/token", data=GRANT, headers=right) for _ in range(3)]
    as_json = api.post("/auth/token", json=GRANT, headers=right)

    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_token_endpoint_429(answers[2])
    assert_token_endpoint_429(as_json)  # a JSON token request is refused alike


@pytest.fixture
def stolen_session(api, acme):
    """A valid access token in an attacker's hands, and the tenant of its user."""
    UserFactory(tenant=acme, username="carol")
    answer = api.post("/auth/login", json={"tenant": "acme", "username": "carol", "password": PASSWORD})
    return answer.get_json()


def test_current_password_guesses_are_limited_per_session(api, stolen_session, monkeypatch):
    headers = bearer(stolen_session["access_token"])
    guesses = [
        api.post(
            "/auth/password",
            json={"current_password": f"guess-number-{n}-long", "new_password": "plum-otter-kettle-58"},
            headers=headers,
        )
        for n in range(5)
    ]
    assert {g.status_code for g in guesses} == {403}
    passwords = services(api.application).passwords
    monkeypatch.setattr(passwords, "verify", lambda *_: pytest.fail("argon2 ran for a throttled guess"))

    right = api.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "plum-otter-kettle-58"},
        headers=headers,
    )

    assert right.status_code == 429
    assert right.get_json()["code"] == "rate_limited"
    assert int(right.headers["Retry-After"]) >= 1


@pytest.fixture
def committing_api(limit_storage, tmp_path, make_settings):
    """An app with the real limits on a database of its own that really commits (requests in
    threads, at once), its counts in memory or in Redis, and carol of acme in it."""
    with fresh_database(tmp_path, "guesses") as url:
        upgrade(url)
        app = create_app(make_settings(database_url=url, **real_limits(), **limit_storage), TESTING=True)
        with services(app).database.sessions() as session, session.begin():
            acme = create_tenant(session, "acme", "Acme Corp")
            member = builtin_role(session, acme, BuiltinRole.MEMBER)
            create_user(session, acme, "carol", services(app).passwords.hash(PASSWORD), roles=[member])
        yield app
        services(app).database.engine.dispose()


def test_concurrent_current_password_guesses_get_no_more_than_the_limit(committing_api, monkeypatch):
    """A stolen token sending its guesses all at once (a gevent worker holds hundreds of
    requests) still gets 5 per session: each guess is counted before it is checked, not
    after its answer, when every other guess would already be past the count."""
    app = committing_api
    tokens = (
        app.test_client()
        .post("/auth/login", json={"tenant": "acme", "username": "carol", "password": PASSWORD})
        .get_json()
    )
    guesses = 20
    passwords = services(app).passwords
    original = passwords.verify
    # Every guess let through waits at the verify for the others, up to a few seconds: all
    # of them when the count lags behind the checks, five when it does not.
    all_in = threading.Barrier(guesses, timeout=3)

    def verify_once_all_are_in(password_hash, password):
        with contextlib.suppress(threading.BrokenBarrierError):
            all_in.wait()
        return original(password_hash, password)

    monkeypatch.setattr(passwords, "verify", verify_once_all_are_in)

    def guess(n):
        return app.test_client().post(
            "/auth/password",
            json={"current_password": f"guess-number-{n}-long", "new_password": "plum-otter-kettle-58"},
            headers=bearer(tokens["access_token"]),
        )

    with ThreadPoolExecutor(guesses) as pool:
        answers = list(pool.map(guess, range(guesses)))

    statuses = [a.status_code for a in answers]
    assert statuses.count(403) == 5, statuses  # password_change_limit_per_session: 5 per 15 minutes
    assert statuses.count(429) == guesses - 5
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)


def test_right_current_passwords_count_too(api, stolen_session):
    """Every current-password check of the session counts, right or wrong (docs/api.md, Rate
    limits): five changes in the window are allowed, the sixth is refused before any check."""
    headers = bearer(stolen_session["access_token"])
    current = PASSWORD
    changes = []
    for n in range(5):
        new_password = f"violet-harbor-canyon-{n}{n + 3}"
        changes.append(
            api.post(
                "/auth/password",
                json={"current_password": current, "new_password": new_password},
                headers=headers,
            ).status_code
        )
        current = new_password

    sixth = api.post(
        "/auth/password",
        json={"current_password": current, "new_password": "amber-lantern-meadow-77"},
        headers=headers,
    )

    assert changes == [204] * 5
    assert sixth.status_code == 429
    assert sixth.get_json()["code"] == "rate_limited"


def test_weak_new_passwords_do_not_use_up_the_guesses(api, stolen_session):
    headers = bearer(stolen_session["access_token"])
    for _ in range(8):
        weak = api.post(
            "/auth/password",
            json={"current_password": PASSWORD, "new_password": "password1234"},
            headers=headers,
        )
        assert weak.status_code == 422

    done = api.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "plum-otter-kettle-58"},
        headers=headers,
    )
    assert done.status_code == 204


def test_refresh_is_limited_per_session(make_client, make_settings, acme):
    api = make_client(make_settings(**{**real_limits(), "refresh_limit_per_session": "3 per minute"}))
    UserFactory(tenant=acme, username="dave")
    tokens = api.post(
        "/auth/login", json={"tenant": "acme", "username": "dave", "password": PASSWORD}
    ).get_json()
    statuses = []
    for _ in range(4):
        answer = api.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))
        statuses.append(answer.status_code)
        if answer.status_code == 200:
            tokens = answer.get_json()

    assert statuses == [200, 200, 200, 429]  # rotating tokens does not make a new caller


def test_introspection_is_limited_per_caller(make_client, make_settings, acme):
    api = make_client(make_settings(**{**real_limits(), "introspect_limit_per_caller": "3 per minute"}))
    reader = ClientFactory(tenant=acme, scopes=["tokens:introspect"])
    other = ClientFactory(tenant=acme, scopes=["tokens:introspect"])
    headers = basic(reader.client_id, DEFAULT_CLIENT_SECRET)

    answers = [api.post("/auth/introspect", data={"token": "x"}, headers=headers) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].mimetype == "application/problem+json"
    assert answers[-1].get_json()["code"] == "rate_limited"
    other_headers = basic(other.client_id, DEFAULT_CLIENT_SECRET)
    assert api.post("/auth/introspect", data={"token": "x"}, headers=other_headers).status_code == 200


def test_introspection_counts_a_client_secret_guess_before_checking_it(make_client, make_settings, acme):
    """API.md: beyond a limit, 429 before any secret is checked. Introspection authenticates
    a client by its secret: guesses at it are counted per client_id, like the token endpoint's."""
    api = make_client(make_settings(**{**real_limits(), "introspect_limit_per_caller": "3 per minute"}))
    reader = ClientFactory(tenant=acme, scopes=["tokens:introspect"])
    wrong = basic(reader.client_id, "not-the-secret")
    guesses = [
        api.post(
            "/auth/introspect",
            data={"token": "x"},
            headers=wrong,
            environ_base={"REMOTE_ADDR": f"10.7.0.{n}"},
        )
        for n in range(3)
    ]
    assert {g.status_code for g in guesses} == {401}

    right = api.post(
        "/auth/introspect", data={"token": "x"}, headers=basic(reader.client_id, DEFAULT_CLIENT_SECRET)
    )

    assert right.status_code == 429  # the right secret too: no oracle, no secret check
    assert right.mimetype == "application/problem+json"
    assert right.get_json()["code"] == "rate_limited"
    assert int(right.headers["Retry-After"]) >= 1


def test_the_suite_settings_keep_the_limits_out_of_the_way(client, acme):
    """Other tests log in from one address thousands of times: their app's limits are loose,
    while these files test the shipped defaults (tests/conftest.py GENEROUS_LIMITS)."""
    UserFactory(tenant=acme, username="erin")
    answers = [
        client.post("/auth/login", json={"tenant": "acme", "username": "erin", "password": "wrong-but-long"})
        for _ in range(40)
    ]
    assert {a.status_code for a in answers} == {401}


def test_rate_limits_can_be_switched_off_but_the_backoff_stays(make_client, make_settings, acme):
    api = make_client(make_settings(**real_limits(), rate_limits_enabled=False))
    UserFactory(tenant=acme, username="frank")

    others = [
        api.post("/auth/login", json={"tenant": "acme", "username": f"u{n}", "password": "wrong-but-long"})
        for n in range(31)
    ]
    frank = [
        api.post(
            "/auth/login",
            json={"tenant": "acme", "username": "frank", "password": "wrong-but-long"},
            environ_base={"REMOTE_ADDR": f"10.8.0.{n}"},
        )
        for n in range(7)
    ]

    assert {a.status_code for a in others} == {401}  # no per-address limit
    assert [a.status_code for a in frank][-1] == 429  # the per-account backoff is not a rate limit
