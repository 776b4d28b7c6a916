"""The authorization API: `create_app()` is the application factory."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask
from flask_openapi3 import APIBlueprint, Info

from app import database as db
from app.api import BEARER_SCHEME, AuthzAPI
from app.audit import record_denial
from app.catalog.store import CatalogCache, application_names
from app.clients.callers import request_client
from app.cors import init_cors
from app.decisions.engine import SubjectCache
from app.errors import register_error_handlers, validation_problem
from app.http import register_http_hygiene
from app.logs import configure_logging, init_request_logging
from app.metrics import init_metrics
from app.redis_health import RedisHealth
from app.scoping import tenant_exists
from app.security.key_store import KeyStore, StoredKeyRing
from app.security.keys import KeyRing, symmetric_key
from app.security.login_backoff import init_login_backoff
from app.security.passwords import Passwords
from app.security.rate_limits import init_rate_limits
from app.security.token_state import TokenStateChecker
from app.security.tokens import configure_jwt
from app.services import Services, init_services
from app.settings import Settings, SigningAlgorithm, load_settings
from policies import PolicyHooks, ensure_every_route_guarded
from policies import init_app as init_policies

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None,
    *,
    blueprints: Iterable[Blueprint] = (),
    **extra_config: Any,
) -> Flask:
    """Build the app; refuses to build one in which any route declares no policy.

    `blueprints` are a deployer's own routes, registered after ours and held to the
    same rule: each route needs a policy decorator or the app does not start.
    """
    settings = settings or load_settings()
    app = AuthzAPI(
        __name__,
        info=Info(title="Multi-tenant authorization API", version="0.1.0"),
        security_schemes={BEARER_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        validation_error_status=422,
        validation_error_callback=validation_problem,
        doc_ui=False,
        static_folder=None,
        instance_relative_config=True,
    )
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
        **extra_config,
    )
    passwords = Passwords(
        settings.argon2_memory_kib,
        settings.argon2_time_cost,
        settings.argon2_parallelism,
        settings.password_min_score,
    )
    client_key = settings.client_secret_key.get_secret_value() if settings.client_secret_key else None
    database = db.init_app(
        app, settings.database_url or _development_database(app), settings.database_timeout
    )
    key_ring = _key_ring(app, settings)
    configure_jwt(app, settings, key_ring)
    token_state = TokenStateChecker(database)
    init_services(
        app,
        Services(
            settings=settings,
            passwords=passwords,
            client_secret_key=(
                client_key or _development_secret(Path(app.instance_path) / "client-secret-key")
            ).encode(),
            database=database,
            key_ring=key_ring,
            token_state=token_state,
            rate_limiter=init_rate_limits(app, settings),
            login_backoff=init_login_backoff(app, settings, passwords.verify_seconds),
            redis_health=RedisHealth(settings.redis_url) if settings.redis_url else None,
            catalog_cache=CatalogCache(),
            subject_cache=SubjectCache(),
        ),
    )
    init_policies(
        app,
        PolicyHooks(
            token_state_check=token_state,
            tenant_exists=tenant_exists,
            denial_recorder=record_denial,
            application_catalog=application_names,
            client_authenticator=request_client,
        ),
    )

    configure_logging()
    init_request_logging(app)  # first: every later hook and error knows the request id
    register_error_handlers(app)
    register_http_hygiene(app)
    init_cors(app, settings.cors_origin_list)
    init_metrics(app)
    _register_blueprints(app)
    for blueprint in blueprints:
        if isinstance(blueprint, APIBlueprint):
            app.register_api(blueprint)
        else:
            app.register_blueprint(blueprint)
    _register_cli(app)
    ensure_every_route_guarded(app)
    return app


def _key_ring(app: Flask, settings: Settings) -> KeyRing:
    instance = Path(app.instance_path)
    if settings.jwt_algorithm is SigningAlgorithm.HS256:
        secret = settings.secret_key.get_secret_value() if settings.secret_key else None
        if secret is None:  # development only: settings refuse this in production
            secret = _development_secret(instance / "hs256-secret")
        ring = symmetric_key(secret)
        return KeyRing(ring, {})
    store = key_store(Path(app.instance_path), settings)
    if not settings.is_production:
        store.ensure_first_key()
    return StoredKeyRing(store)


def key_store(instance: Path, settings: Settings) -> KeyStore:
    key_dir = settings.key_dir or instance / "keys"
    return KeyStore(key_dir, settings.jwt_algorithm, settings.refresh_token_ttl + settings.token_leeway)


def _development_database(app: Flask) -> str:
    """The SQLite file in the instance folder (made only when no database is configured)."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / 'authz.db'}"


def _development_secret(path: Path) -> str:
    """A random secret made once and kept in the instance folder (made only when needed)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _register_blueprints(app: AuthzAPI) -> None:
    from app.audit_log.routes import bp as audit_log
    from app.auth.oauth_routes import bp as oauth
    from app.auth.routes import bp as auth
    from app.catalog.routes import bp as catalog
    from app.clients.routes import bp as clients
    from app.decisions.routes import bp as decisions
    from app.decisions.routes import metadata_bp as authzen
    from app.docs.routes import bp as docs
    from app.ops.routes import bp as ops
    from app.projects.routes import bp as projects
    from app.resources.routes import bp as resources
    from app.roles.routes import bp as roles
    from app.tenants.routes import bp as tenants
    from app.tutorial.routes import bp as tutorial
    from app.users.routes import bp as users
    from app.wellknown.routes import bp as wellknown

    areas = (
        auth,
        oauth,
        catalog,
        tenants,
        users,
        roles,
        projects,
        resources,
        clients,
        audit_log,
        ops,
        wellknown,
        decisions,
        authzen,
        tutorial,
    )
    for api in areas:
        app.register_api(api)
    app.register_blueprint(docs)


def _register_cli(app: Flask) -> None:
    from app.cli import register_commands

    register_commands(app)
