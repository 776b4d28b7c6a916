"""RFC 7662 token introspection, revocation-aware: a token is active only if it verifies
and its session, user, client and tenant still allow it on this very request.

Who may introspect (API.md): a client holding `tokens:introspect` among its effective scopes
(its tenant's tokens only), or a holder of `platform:read` (every tenant's). Every answer
is counted in the metrics; each caller is audited at most once a minute (an introspecting
gateway asks on every request, and its audit trail must not drown the tenant's). Checking a
token touches nothing of it: only the caller's own `last_used_at` moves.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
from flask import g
from flask_jwt_extended import decode_token
from sqlalchemy import select

from app.audit import AuditAction, record
from app.database import unit_of_work
from app.metrics import INTROSPECTIONS
from app.security.token_state import token_state_checker
from models import AuditEvent, utcnow
from policies.principal import Principal
from policies.problems import Problem

INACTIVE: dict[str, Any] = {"active": False}
# What an active answer shows (RFC 7662 §2.2 members, plus our own claims).
SHOWN_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "tenant_id", "roles", "permissions", "sid")
AUDIT_INTERVAL_SECONDS = 60.0
MAX_REMEMBERED_CALLERS = 10_000


def describe(token: str, visible_tenant: uuid.UUID | None) -> dict[str, Any]:
    """The introspection answer for `token`. A caller limited to `visible_tenant` learns
    nothing about another tenant's tokens: they are simply inactive (API.md isolation)."""
    answer = _answer(token, visible_tenant)
    caller: Principal | None = g.get("authz_principal")
    if caller is not None:
        INTROSPECTIONS.labels(caller.kind.value, str(answer["active"]).lower()).inc()
        _audit_at_most_once_a_minute(caller, active=answer["active"])
    return answer


def _answer(token: str, visible_tenant: uuid.UUID | None) -> dict[str, Any]:
    try:
        claims = decode_token(token)
        principal = Principal.from_claims(claims)
        token_state_checker().check(principal)  # no `last_used_at` of the token's client
    except (jwt.InvalidTokenError, Problem, UnicodeError):
        return dict(INACTIVE)
    if visible_tenant is not None and principal.tenant_id != visible_tenant:
        return dict(INACTIVE)
    answer = {name: claims[name] for name in SHOWN_CLAIMS if name in claims}
    answer.update(
        active=True,
        token_type="Bearer" if principal.token_type == "access" else "refresh_token",
        token_use=principal.token_type,
    )
    if principal.token_type == "access":
        answer["scope"] = " ".join(sorted(principal.permissions))
    else:
        # A refresh token survives a role change and refreshes into the roles of that
        # moment: what it was issued with is stale, and it authorizes no request anyway.
        for stale in ("roles", "permissions"):
            answer.pop(stale, None)
    if "client_id" in claims:
        answer["client_id"] = claims["client_id"]
    return answer


class _Throttle:
    """When each caller was last considered for an audit event, in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str, str], float] = {}

    def due(self, key: tuple[str, str, str]) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, float("-inf")) < AUDIT_INTERVAL_SECONDS:
                return False
            if len(self._last) >= MAX_REMEMBERED_CALLERS:
                self._last = {k: t for k, t in self._last.items() if now - t < AUDIT_INTERVAL_SECONDS}
            self._last[key] = now
            return True


_throttle = _Throttle()


def _audit_at_most_once_a_minute(caller: Principal, *, active: bool) -> None:
    """One `auth.token.introspected` event per caller and minute: this process asks the
    database at most once a minute per caller, and the database answers whether another
    worker or instance recorded one within the minute (an index walk on tenant, actor, time)."""
    if not _throttle.due((caller.kind.value, caller.subject, str(caller.tenant_id))):
        return
    from app.database import db_session

    session = db_session()
    with unit_of_work(session):
        recent = session.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.tenant_id == caller.tenant_id,
                AuditEvent.actor_id == caller.subject,
                AuditEvent.action == AuditAction.TOKEN_INTROSPECTED.value,
                AuditEvent.created_at > utcnow() - timedelta(seconds=AUDIT_INTERVAL_SECONDS),
            )
            .limit(1)
        )
        if recent is None:
            record(
                session,
                AuditAction.TOKEN_INTROSPECTED,
                tenant_id=caller.tenant_id,
                actor=caller,
                details={"active": active},
            )
