"""Rate limits with Flask-Limiter: who is counted, by which key, and how a 429 looks.

Limits are declared on the views (under the policy decorator, so that they run after the
caller is authenticated and the body validated, and before any password or secret is
checked); their values are settings. Counts live in Redis when `AUTHZ_REDIS_URL` is set
(every worker and instance shares them), else in the process's memory.

Flask-Limiter's decorators bind to one `Limiter` object at import time, while an app
factory builds many apps (tests do); `AppLimiter` keeps each app's storage in that app,
so that two apps never share counts by accident.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, Response, g, request
from flask_jwt_extended import get_jwt
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from limits.errors import StorageError
from limits.strategies import RateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from app.metrics import RATE_LIMITED
from app.services import services
from app.settings import Settings
from models import username_key

# The scopes (one shared count per scope and key); the tutorial's /login shares the login ones.
LOGIN_BY_ADDRESS = "login:address"
LOGIN_BY_ACCOUNT = "login:account"
TOKEN_BY_ADDRESS = "token:address"
TOKEN_BY_CLIENT = "token:client"
PASSWORD_BY_SESSION = "password:session"
INTROSPECT_BY_CALLER = "introspect:caller"
REFRESH_BY_SESSION = "refresh:session"


def client_address() -> str:
    """The caller's address: the socket peer, or X-Forwarded-For's entry written by the
    nearest trusted proxy when `trusted_proxy_count` says there are proxies (ProxyFix).
    A client cannot choose it by sending the header itself when no proxy is trusted."""
    return request.remote_addr or "unknown"


class AppLimiter(Limiter):
    """A Limiter whose storage belongs to the current app (one per app, not per process)."""

    def init_app_limiter(self, app: Flask) -> RateLimiter:
        """`init_app`, returning the limiter it made for `app` (kept in the app's services)."""
        self.init_app(app)
        if self._limiter is None:  # flask-limiter makes one in every init_app
            raise RuntimeError("flask-limiter made no limiter")
        return self._limiter

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        """Flask-Limiter calls this before every request (in the middleware) and again from
        each limit decorator. Every limit of ours is declared on its view, so the middleware
        call would only look for default, application or blueprint limits, which we never
        set (`init_rate_limits` refuses them): skipping it spares every request that work."""
        if in_middleware:
            return
        super()._check_request_limit(callable_name, in_middleware)

    @property
    def limiter(self) -> RateLimiter:
        if self._storage_dead and self._fallback_limiter is not None:
            return self._fallback_limiter  # Redis is down: per-process counts until it is back
        return services().rate_limiter

    def hit_now(self, limit: str, key: str, scope: str) -> int | None:
        """Count one hit of the shared `limit` (scope, key) at once, atomically (a Lua script
        in Redis, a lock in memory): None when it was within the limit, else the seconds to
        wait. For a count made in the view, at the moment a guess is checked."""
        identifiers = [self._key_prefix, key, scope] if self._key_prefix else [key, scope]
        for item in parse_many(limit):
            try:
                allowed = self.limiter.hit(item, *identifiers)
            except (redis.RedisError, StorageError):
                if not self._in_memory_fallback_enabled or self._storage_dead:
                    raise
                self._storage_dead = True  # as Flask-Limiter does: memory until Redis is back
                allowed = self.limiter.hit(item, *identifiers)
            if not allowed:
                reset_at = self.limiter.get_window_stats(item, *identifiers).reset_time
                return max(1, math.ceil(reset_at - time.time()))
        return None


limiter = AppLimiter(
    key_func=client_address,
    strategy="moving-window",
    headers_enabled=False,
    in_memory_fallback_enabled=True,
)


def init_rate_limits(app: Flask, settings: Settings) -> RateLimiter:
    if settings.trusted_proxy_count:
        # Only the entries our own proxies appended are believed (werkzeug ProxyFix).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_count)  # type: ignore[method-assign]  # Flask's idiom
    storage_options: dict[str, Any] = {}
    if settings.redis_url:
        storage_options = {
            "key_prefix": f"{settings.redis_prefix}:limits",
            "socket_timeout": 0.3,
            "socket_connect_timeout": 0.3,
        }
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_STORAGE_OPTIONS=storage_options,
    )
    app_limiter = limiter.init_app_limiter(app)
    if limiter.limit_manager.default_limits or limiter.limit_manager.application_limits:
        raise RuntimeError("every rate limit is declared on its view (see AppLimiter)")
    app.register_error_handler(RateLimitExceeded, _render_refusal)
    return app_limiter


@limiter.request_filter
def _limits_off() -> bool:
    return not services().settings.rate_limits_enabled


def setting(name: str) -> Callable[[], str]:
    """The limit string of the current app's setting `name` (read per request)."""

    def value() -> str:
        from app.security import settings

        return str(getattr(settings(), name))

    return value


def _digest(*parts: str) -> str:
    """Keys from caller-chosen text are hashed: bounded length, nothing readable in Redis."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def login_account(tenant_slug: str, username: str) -> str:
    """The account a login names, whether or not it exists: tenant and compared username."""
    return _digest(tenant_slug, username_key(username))


def login_account_key() -> str:
    from app.security import settings

    body = request.get_json(silent=True) or {}
    tenant = body.get("tenant") or settings().default_tenant or ""
    return login_account(str(tenant), str(body.get("username", "")))


def session_key() -> str:
    """The login session of the verified token (password change, refresh)."""
    claims = get_jwt()
    return _digest("session", str(claims.get("sid") or claims.get("sub") or ""))


def client_id_key() -> str:
    """The client_id a token or introspection request names (Basic or body), else the address."""
    from app.clients.oauth import OAuthError, client_credentials_from_request, request_params

    try:
        credentials = client_credentials_from_request(request_params())
    except OAuthError:
        credentials = None
    if credentials is not None:
        return _digest("client", credentials.client_id)
    return _digest("address", client_address())


def caller_key() -> str:
    """Who calls introspection: its client_id, or the bearer token it presents."""
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        return _digest("bearer", authorization[7:].strip())
    return client_id_key()


def failed_with(*statuses: int) -> Callable[[Response], bool]:
    """deduct_when: count only the answers that mean a wrong guess."""
    return lambda response: response.status_code in statuses


def retry_after_seconds(exc: RateLimitExceeded) -> int:
    """Seconds until the breached limit lets the key in again (RFC 9110 §10.2.3)."""
    current = limiter.current_limit
    reset_at = current.reset_at if current is not None else time.time() + exc.limit.limit.get_expiry()
    return max(1, math.ceil(reset_at - time.time()))


def breached_scope(exc: RateLimitExceeded) -> str:
    scope = exc.limit.scope
    return scope if isinstance(scope, str) else "route"


def count_refusal(scope: str) -> None:
    """Throttled attempts go to metrics, not to the audit log (one row each would be a flood)."""
    route = request.url_rule.rule if request.url_rule else "unmatched"
    RATE_LIMITED.labels(route, scope).inc()
    g.authz_rate_limited = scope


# --- the limits each route declares (under its policy decorator) ----------------------------

View = Callable[..., Any]


def _stack(*limits: Callable[[View], View]) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        for limit in reversed(limits):
            view = limit(view)
        return view

    return decorate


def login_limits() -> Callable[[View], View]:
    """POST /auth/login and the tutorial's /login share these counts."""
    return _stack(
        limiter.shared_limit(setting("login_limit_per_address"), scope=LOGIN_BY_ADDRESS),
        limiter.shared_limit(
            setting("login_limit_per_account"),
            scope=LOGIN_BY_ACCOUNT,
            key_func=login_account_key,
            deduct_when=failed_with(401),
        ),
    )


def token_limits() -> Callable[[View], View]:
    return _stack(
        limiter.limit(setting("token_limit_per_address"), scope=TOKEN_BY_ADDRESS),
        limiter.limit(setting("token_limit_per_client"), scope=TOKEN_BY_CLIENT, key_func=client_id_key),
    )


def _counted_in_the_view(_response: Response) -> bool:
    return False


def password_change_limits() -> Callable[[View], View]:
    """A session out of current-password guesses (a stolen token's) is refused here, before
    any work; each guess is counted by `count_password_guess` when it is checked. Not with
    deduct_when: Flask-Limiter then only tests before the view and counts after the answer,
    so guesses sent at once (a gevent worker holds hundreds) would all pass the test."""
    return limiter.shared_limit(
        setting("password_change_limit_per_session"),
        scope=PASSWORD_BY_SESSION,
        key_func=session_key,
        deduct_when=_counted_in_the_view,  # test only: never deducted after the answer
    )


def count_password_guess() -> None:
    """Count one current-password guess of the session before it is checked (the check and
    count are one step, so concurrent guesses cannot overtake it); 429 when none is left."""
    from app.security import settings
    from app.security.login_backoff import RateLimited

    if not settings().rate_limits_enabled:
        return
    retry_after = limiter.hit_now(
        settings().password_change_limit_per_session, session_key(), PASSWORD_BY_SESSION
    )
    if retry_after is not None:
        count_refusal(PASSWORD_BY_SESSION)
        raise RateLimited(retry_after)


def introspect_limits() -> Callable[[View], View]:
    return limiter.limit(
        setting("introspect_limit_per_caller"), scope=INTROSPECT_BY_CALLER, key_func=caller_key
    )


def refresh_limits() -> Callable[[View], View]:
    return limiter.limit(setting("refresh_limit_per_session"), scope=REFRESH_BY_SESSION, key_func=session_key)


# --- refusals ------------------------------------------------------------------------------


def refusal_of(exc: RateLimitExceeded) -> tuple[str, int]:
    """Count a Flask-Limiter refusal and say (scope, seconds to wait). A refusal of an
    account's login limit takes as long as a failed login (see app.security.login_backoff)."""
    from app.security.login_backoff import login_backoff

    scope = breached_scope(exc)
    count_refusal(scope)
    if scope == LOGIN_BY_ACCOUNT:
        login_backoff().pace.wait_like_a_failure()
    return scope, retry_after_seconds(exc)


def _render_refusal(exc: RateLimitExceeded) -> Response:
    from app.errors import render_problem
    from app.security.login_backoff import RateLimited

    _scope, retry_after = refusal_of(exc)
    return render_problem(RateLimited(retry_after))
