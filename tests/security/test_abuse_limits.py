"""Rate limits beside login: the token endpoint (RFC 6749 form, per address and client_id),
current-password guesses with a stolen token (per session), refresh and introspection (per
caller). Refused before any secret or password is checked (issue 15)."""

from __future__ import annotations

import base64

import pytest

from app.services import services
from tests.conftest import PASSWORD, bearer, real_limits
from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory, UserFactory

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def api(make_client, make_settings, db):
    return make_client(make_settings(**real_limits()))


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_token_endpoint_limits_a_client_id_in_rfc_6749_form(api, acme):
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

    assert right.status_code == 429  # the right secret too: no oracle, no secret check
    assert right.mimetype == "application/json"
    assert right.get_json()["error"] == "slow_down"
    assert set(right.get_json()) == {"error", "error_description"}
    assert int(right.headers["Retry-After"]) >= 1
    assert right.headers["Cache-Control"] == "no-store"


def test_token_endpoint_limits_an_address(api, acme):
    answers = [
        api.post("/auth/token", data=GRANT, headers=basic(f"cli_unknown_{n}", "whatever")) for n in range(61)
    ]

    assert [a.status_code for a in answers] == [401] * 60 + [429]
    assert answers[-1].get_json()["error"] == "slow_down"


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
