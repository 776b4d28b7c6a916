"""The one state lookup a token gets per request: is what it was issued for still true?

A token names its session (users) or client (integrations) and the `authz_ver` it was
issued under. Whether the session was revoked, the user deactivated or deleted, the roles
changed, the client revoked or rotated, or the tenant suspended (API.md, "Immediate
effect") is answered by one indexed query, cached in memory per worker.

A cached answer is used only while the revocation epoch (app.security.revocation) is the
one read before the answer was loaded. Every revoking change bumps the epoch in its own
transaction, so after it commits, the next request in any worker of any instance misses
the cache and sees the change. Per request that costs one lookup: the epoch, one
primary-key read of the database (never a copy elsewhere: a cache that can hand back an
older epoch, as a restarted or failed-over Redis can, would let a revoked token through).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from flask import g, has_request_context
from sqlalchemy import bindparam, select, update

from app.database import Database, db_session, unit_of_work
from app.security.revocation import database_epoch
from app.services import services
from models import Client, LoginSession, Tenant, TenantStatus, User, utcnow
from policies.principal import Principal, PrincipalKind
from policies.problems import TenantSuspended, Unauthenticated

MAX_ENTRIES = 100_000
# Entries are refreshed at least this often even when nothing was revoked.
MAX_AGE_SECONDS = 60.0
# `last_used_at` of a client is written at most this often per worker.
LAST_USED_RESOLUTION_SECONDS = 60.0

# Built once: constructing a statement per request costs more than running it.
USER_TOKEN_STATE = (
    select(
        LoginSession.revoked_at, LoginSession.expires_at, User.is_active, User.authz_version, Tenant.status
    )
    .join(User, User.id == LoginSession.user_id)
    .join(Tenant, Tenant.id == LoginSession.tenant_id)
    .where(
        LoginSession.id == bindparam("session_id"),
        LoginSession.user_id == bindparam("user_id"),
        LoginSession.tenant_id == bindparam("tenant_id"),
    )
)
# A client is live only while its owner exists and is active (app.clients.bounds): the same
# one query, with the owner joined.
CLIENT_TOKEN_STATE = (
    select(Client.revoked_at, Client.authz_version, Tenant.status, User.is_active.label("owner_active"))
    .join(Tenant, Tenant.id == Client.tenant_id)
    .outerjoin(User, User.id == Client.created_by)
    .where(Client.client_id == bindparam("client_id"), Client.tenant_id == bindparam("tenant_id"))
)


@dataclass(frozen=True, slots=True)
class TokenState:
    """What the database says about a session or client; `live` False when gone or revoked."""

    live: bool
    authz_version: int
    tenant_active: bool
    epoch: int
    loaded_at: float
    expires_at: datetime | None = None  # of a login session


def revoked() -> Unauthenticated:
    return Unauthenticated("The token has been revoked.", code="token_revoked")


class TokenStateChecker:
    def __init__(self, database: Database) -> None:
        # Bound at start-up: the per-request path looks nothing up through `current_app`.
        self._database = database
        self._cache: OrderedDict[tuple[str, ...], TokenState] = OrderedDict()
        self._lock = threading.Lock()
        self._last_used_written: dict[tuple[str, str], float] = {}

    def __call__(self, principal: Principal) -> None:
        """Raise unless the principal's token is still valid; a client caller's `last_used_at`
        is kept fresh."""
        self.check(principal)
        if principal.kind is PrincipalKind.CLIENT:
            self.touch_client(principal.subject, principal.tenant_id)

    def check(self, principal: Principal) -> None:
        """Raise unless the token is still valid; refresh tokens skip `authz_ver`. Touches
        nothing: introspecting a client's token is not that client's use."""
        state = self.state_of(principal)
        # Suspension also ends the sessions and client tokens (app.tenants.service); while it
        # lasts, the caller is told why.
        if not state.tenant_active:
            raise TenantSuspended("The tenant is suspended.")
        if not state.live or (state.expires_at is not None and state.expires_at <= utcnow()):
            raise revoked()
        if principal.token_type == "access" and principal.authz_version != state.authz_version:
            raise revoked()

    def current_epoch(self) -> int:
        """The revocation epoch, read once per request (other epoch-keyed caches share it)."""
        in_request = has_request_context()
        if in_request:
            epoch: int | None = g.get("authz_epoch")
            if epoch is not None:
                return epoch
        epoch = database_epoch(self._database)
        if in_request:
            g.authz_epoch = epoch
        return epoch

    def state_of(self, principal: Principal) -> TokenState:
        # Read the epoch BEFORE loading: an answer is only as fresh as the epoch it carries.
        epoch = self.current_epoch()
        key = _cache_key(principal)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.epoch == epoch and now - cached.loaded_at < MAX_AGE_SECONDS:
                self._cache.move_to_end(key)
                return cached
        state = _load(principal, epoch, now)
        with self._lock:
            self._cache[key] = state
            self._cache.move_to_end(key)
            while len(self._cache) > MAX_ENTRIES:
                self._cache.popitem(last=False)
        return state

    def touch_client(self, client_id: str, tenant_id: uuid.UUID) -> None:
        """Keep `last_used_at` fresh to the minute without a write on every request."""
        key = (client_id, str(tenant_id))
        now = time.monotonic()
        if now - self._last_used_written.get(key, float("-inf")) < LAST_USED_RESOLUTION_SECONDS:
            return
        self._last_used_written[key] = now
        # The policy runs before the view: the request's session holds only reads so far.
        session = db_session()
        with unit_of_work(session):
            session.execute(
                update(Client)
                .where(Client.client_id == client_id, Client.tenant_id == tenant_id)
                .values(last_used_at=utcnow())
                .execution_options(synchronize_session=False)
            )


def _cache_key(principal: Principal) -> tuple[str, ...]:
    if principal.kind is PrincipalKind.USER:
        return ("session", str(principal.session_id), principal.subject, str(principal.tenant_id))
    return ("client", principal.subject, str(principal.tenant_id))


def _load(principal: Principal, epoch: int, now: float) -> TokenState:
    session = db_session()
    if principal.kind is PrincipalKind.USER:
        user_id = principal.subject_uuid
        if user_id is None or principal.session_id is None:
            return TokenState(False, 0, True, epoch, now)
        user_params = {
            "session_id": principal.session_id,
            "user_id": user_id,
            "tenant_id": principal.tenant_id,
        }
        user_row = session.execute(USER_TOKEN_STATE, user_params).one_or_none()
        if user_row is None:
            return TokenState(False, 0, True, epoch, now)
        live = user_row.revoked_at is None and user_row.is_active
        tenant_active = user_row.status == TenantStatus.ACTIVE
        return TokenState(live, user_row.authz_version, tenant_active, epoch, now, user_row.expires_at)
    client_params = {"client_id": principal.subject, "tenant_id": principal.tenant_id}
    client_row = session.execute(CLIENT_TOKEN_STATE, client_params).one_or_none()
    if client_row is None:
        return TokenState(False, 0, True, epoch, now)
    live = client_row.revoked_at is None and client_row.owner_active is True
    tenant_active = client_row.status == TenantStatus.ACTIVE
    return TokenState(live, client_row.authz_version, tenant_active, epoch, now)


def token_state_checker() -> TokenStateChecker:
    return services().token_state
