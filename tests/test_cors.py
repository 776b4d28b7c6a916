"""Browser clients: CORS is closed by default; AUTHZ_CORS_ORIGINS opens exact origins only,
answers the preflight for the bearer header, and never sends `*` or allows credentials."""

from __future__ import annotations

import pytest

from app.settings import SettingsError, load_settings
from tests.conftest import bearer
from tests.factories import UserFactory

APP_ORIGIN = "https://app.example"


def preflight(api, origin: str, headers: str = "authorization"):
    return api.options(
        "/auth/me",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.fixture
def open_api(make_client, make_settings):
    return make_client(make_settings(cors_origins=f"{APP_ORIGIN}, http://localhost:3000"))


def test_cors_is_closed_by_default(client):
    response = preflight(client, APP_ORIGIN)
    simple = client.get("/healthz", headers={"Origin": APP_ORIGIN})

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Origin" not in simple.headers


def test_a_configured_origin_gets_the_preflight_for_the_bearer_header(open_api):
    response = preflight(open_api, APP_ORIGIN, "authorization, content-type")

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.headers.get("Vary", "")


def test_a_configured_origin_reads_the_answer_and_its_headers(open_api, login):
    token = login(UserFactory(roles=["member"]), api=open_api)["access_token"]

    response = open_api.get("/auth/me", headers={"Origin": APP_ORIGIN, **bearer(token)})

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "WWW-Authenticate" in response.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://app.example.evil.example",  # a literal match, not a prefix or a pattern
        "http://app.example",  # another scheme is another origin
        "https://app.example:8443",
        "null",
    ],
)
def test_any_other_origin_gets_no_cors_headers(open_api, origin):
    response = preflight(open_api, origin)

    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "value",
    ["*", "https://*.example", "https://app.example/path", "app.example", "https://app.example, .*"],
)
def test_the_setting_takes_exact_origins_only(monkeypatch, value):
    monkeypatch.setenv("AUTHZ_CORS_ORIGINS", value)

    with pytest.raises(SettingsError, match="exact origins"):
        load_settings()


def _vary(response) -> list[str]:
    return [v.strip() for header in response.headers.getlist("Vary") for v in header.split(",")]


@pytest.mark.parametrize("origins", [APP_ORIGIN, f"{APP_ORIGIN}, http://localhost:3000"])
def test_every_answer_varies_by_origin_once_cors_is_open(make_client, make_settings, origins):
    """Whether an answer carries Access-Control-Allow-Origin depends on the request's Origin,
    with one configured origin as with several: a shared cache must key on it (Fetch §3.2.5)."""
    api = make_client(make_settings(cors_origins=origins))

    for response in (
        preflight(api, APP_ORIGIN),
        api.get("/.well-known/jwks.json", headers={"Origin": APP_ORIGIN}),
        api.get("/.well-known/jwks.json", headers={"Origin": "https://evil.example"}),
        api.get("/.well-known/jwks.json"),
    ):
        assert _vary(response).count("Origin") == 1, response.headers
