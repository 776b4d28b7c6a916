"""The app's services: one typed object at `app.extensions["authz"]`, read through
`services()`.

`create_app` builds it once every part exists, so a part left out is an error at start-up
(and in the type checker), never a `KeyError` in some later request. The per-area
shorthands (`settings()`, `database()`, `key_ring()`, ...) read this object. The policy
layer's hooks are wired apart, through `policies.init_app`.

One convention for the area services (`app/<area>/service.py`): they take the settings,
the password hasher and the client-secret key they need as arguments, which the route (or
the CLI) reads here; a service never reaches for them itself, so it runs and is tested
with whatever it is handed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from limits.strategies import RateLimiter

    from app.catalog.store import CatalogCache
    from app.database import Database
    from app.decisions.engine import SubjectCache
    from app.redis_health import RedisHealth
    from app.security.keys import KeyRing
    from app.security.login_backoff import LoginBackoff
    from app.security.passwords import Passwords
    from app.security.token_state import TokenStateChecker
    from app.settings import Settings

EXTENSION = "authz"


@dataclass(frozen=True, eq=False)
class Services:
    settings: Settings
    passwords: Passwords
    client_secret_key: bytes  # the key of the HMAC that hashes integration client secrets
    database: Database
    key_ring: KeyRing
    token_state: TokenStateChecker
    rate_limiter: RateLimiter  # this app's own counts (flask-limiter's Limiter is per process)
    login_backoff: LoginBackoff
    redis_health: RedisHealth | None  # None without Redis
    catalog_cache: CatalogCache
    subject_cache: SubjectCache


def init_services(app: Flask, services: Services) -> None:
    if EXTENSION in app.extensions:
        raise RuntimeError("the app's services are already set")
    app.extensions[EXTENSION] = services


def services(app: Flask | None = None) -> Services:
    """The services of `app`, or of the current app."""
    found: Services = (app or current_app).extensions[EXTENSION]
    return found
