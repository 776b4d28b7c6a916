"""Deny by default, enforced at start-up; and the production refusals of the settings."""

from __future__ import annotations

import secrets

import pytest
from flask_openapi3 import APIBlueprint

from app import create_app
from app.settings import SettingsError, load_settings
from policies import UnguardedRouteError, public


def test_an_unguarded_route_stops_the_app_from_starting(make_settings):
    bp = APIBlueprint("extra", __name__)

    @bp.get("/forgotten")
    def forgotten() -> dict:
        return {}

    with pytest.raises(UnguardedRouteError, match=r"GET /forgotten \(endpoint 'extra.forgotten'\)"):
        create_app(make_settings(), blueprints=[bp])


def test_a_plain_flask_blueprint_is_held_to_the_same_rule(make_settings):
    from flask import Blueprint

    bp = Blueprint("plain", __name__)
    bp.add_url_rule("/raw", "raw", lambda: "raw")

    with pytest.raises(UnguardedRouteError, match="/raw"):
        create_app(make_settings(), blueprints=[bp])


def test_a_guarded_route_of_a_deployer_is_accepted(make_settings):
    bp = APIBlueprint("extra", __name__)

    @bp.get("/status")
    @public("status page")
    def status() -> dict:
        return {"ok": True}

    app = create_app(make_settings(), blueprints=[bp])

    assert app.test_client().get("/status").get_json() == {"ok": True}


def test_two_policies_on_one_route_are_refused():
    from policies import authenticated

    with pytest.raises(TypeError, match="two policies"):

        @authenticated()
        @public("also public?")
        def confused() -> None: ...


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"jwt_algorithm": "HS256"}, "AUTHZ_SECRET_KEY is missing"),
        ({"jwt_algorithm": "HS256", "secret_key": "super-secret"}, "well-known"),
        ({"jwt_algorithm": "HS256", "secret_key": "too-short-but-random-9f2"}, "shorter than 32 bytes"),
        ({"jwt_algorithm": "RS256"}, "AUTHZ_KEY_DIR"),
        ({"key_dir": "/keys", "argon2_memory_kib": 1024}, "below OWASP"),
        ({"key_dir": "/keys", "client_secret_key": "short"}, "AUTHZ_CLIENT_SECRET_KEY"),
    ],
    ids=["missing secret", "tutorial secret", "short secret", "no key dir", "weak argon2", "client key"],
)
def test_production_refuses_unsafe_settings(overrides, reason):
    values = {"env": "production", "database_url": "postgresql+psycopg://db/authz", **overrides}

    with pytest.raises(SettingsError, match=reason) as refused:
        load_settings(_env_file=None, **values)

    assert "super-secret" not in str(refused.value)


def test_production_accepts_a_long_random_secret():
    settings = load_settings(
        _env_file=None,
        env="production",
        database_url="postgresql+psycopg://db/authz",
        jwt_algorithm="HS256",
        secret_key=secrets.token_urlsafe(48),
        client_secret_key=secrets.token_hex(48),
    )

    assert settings.is_production


def test_production_reads_the_environment(monkeypatch):
    monkeypatch.setenv("AUTHZ_ENV", "production")
    monkeypatch.setenv("AUTHZ_JWT_ALGORITHM", "HS256")
    monkeypatch.setenv("AUTHZ_SECRET_KEY", "super-secret")
    monkeypatch.setenv("AUTHZ_DATABASE_URL", "postgresql+psycopg://db/authz")

    with pytest.raises(SettingsError, match="well-known"):
        create_app()


def test_production_without_signing_keys_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTHZ_ENV", "production")
    monkeypatch.setenv("AUTHZ_DATABASE_URL", "postgresql+psycopg://db/authz")
    monkeypatch.setenv("AUTHZ_KEY_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("AUTHZ_CLIENT_SECRET_KEY", secrets.token_urlsafe(48))

    with pytest.raises(SettingsError, match="no signing key"):
        create_app()
