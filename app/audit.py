"""Writing audit events. The caller's unit of work commits them with the change itself."""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

from flask import has_request_context, request
from sqlalchemy import (
    JSON,
    Integer,
    Select,
    String,
    cast,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from app.logs import request_id
from app.metrics import DENIALS
from app.settings import Settings
from models import AuditEvent, Client, LoginSession, Project, Resource, Role, Tenant, User, utcnow
from policies.principal import Principal
from policies.problems import Problem

SECURITY_LOG = logging.getLogger("authz.security")
UNLOGGED = "authz.unlogged_audit_events"


class AuditAction(enum.StrEnum):
    LOGIN_SUCCEEDED = "auth.login.succeeded"
    LOGIN_FAILED = "auth.login.failed"
    TOKEN_REFRESHED = "auth.token.refreshed"
    REFRESH_REUSE_DETECTED = "auth.refresh.reuse_detected"
    LOGOUT = "auth.logout"
    PASSWORD_REHASHED = "auth.password.rehashed"
    PASSWORD_CHANGED = "auth.password.changed"
    SESSION_REVOKED = "auth.session.revoked"
    TOKEN_INTROSPECTED = "auth.token.introspected"
    ACCESS_DENIED = "access.denied"
    TENANT_CREATED = "tenant.created"
    TENANT_UPDATED = "tenant.updated"
    TENANT_SUSPENDED = "tenant.suspended"
    TENANT_REACTIVATED = "tenant.reactivated"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DEACTIVATED = "user.deactivated"
    USER_DELETED = "user.deleted"
    USER_ROLES_CHANGED = "user.roles.changed"
    ROLE_CREATED = "role.created"
    ROLE_UPDATED = "role.updated"
    ROLE_DELETED = "role.deleted"
    CLIENT_CREATED = "client.created"
    CLIENT_SECRET_ROTATED = "client.secret.rotated"
    CLIENT_REVOKED = "client.revoked"
    CLIENT_UPDATED = "client.updated"
    CLIENT_TOKEN_ISSUED = "client.token.issued"
    CLIENT_TOKEN_REFUSED = "client.token.refused"
    PROJECT_CREATED = "project.created"
    PROJECT_UPDATED = "project.updated"
    PROJECT_DELETED = "project.deleted"
    PERMISSION_CREATED = "permission.created"
    PERMISSION_UPDATED = "permission.updated"
    PERMISSION_DELETED = "permission.deleted"
    RESOURCE_CREATED = "resource.created"
    RESOURCE_REPLACED = "resource.replaced"
    RESOURCE_DELETED = "resource.deleted"


# The audit name of each model that can be an event's target.
AUDIT_TARGETS: dict[type[Any], str] = {
    Client: "client",
    LoginSession: "session",
    Project: "project",
    Resource: "resource",
    Role: "role",
    Tenant: "tenant",
    User: "user",
}
Target = Client | LoginSession | Project | Resource | Role | Tenant | User
_FROM_TARGET: Any = object()  # "taken from the target": tenant_id must be said when there is none


def record(
    session: Session,
    action: AuditAction,
    actor: Principal | None = None,
    *,
    target: Target | None = None,
    tenant_id: uuid.UUID | None = _FROM_TARGET,
    actor_id: uuid.UUID | str | None = None,
    actor_type: str = "user",
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to `session`; it commits or rolls back with the change.

    With `target` (a model), the event's tenant and target come from it; without one, the
    tenant must be named (None for an event outside every tenant), so that no event loses
    its tenant by omission. `details` must never hold a token, password, secret or hash.
    """
    if target is not None:
        if tenant_id is not _FROM_TARGET or target_type is not None or target_id is not None:
            raise TypeError("record(): give a target, or tenant_id/target_type/target_id, not both")
        tenant_id = target.id if isinstance(target, Tenant) else target.tenant_id
        target_type, target_id = AUDIT_TARGETS[type(target)], target.id
    elif tenant_id is _FROM_TARGET:
        raise TypeError("record(): without a target, name the tenant_id (None for none)")
    event = AuditEvent(
        id=uuid.uuid4(),
        created_at=utcnow(),
        tenant_id=tenant_id,
        action=action.value,
        outcome=outcome,
        actor_type=actor.kind.value if actor else (actor_type if actor_id else None),
        actor_id=str(actor.subject if actor else actor_id) if (actor or actor_id) else None,
        target_type=target_type,
        target_id=str(target_id) if target_id else None,
        ip_address=request.remote_addr if has_request_context() else None,
        request_id=request_id(),
        details=details or {},
    )
    session.add(event)
    session.info.setdefault(UNLOGGED, []).append(event)
    return event


def record_alone(
    session: Session, action: AuditAction, actor: Principal | None = None, **fields: Any
) -> None:
    """Record an event that is the whole change (a token issued or refused): one INSERT,
    committed on its own, before the caller answers.

    A request reading outside a transaction (app.database.db_session) writes it as a single
    autocommitted statement: atomic by itself, with no BEGIN and COMMIT round trips and no
    second connection. Any other session (a transaction under way, tests that bind sessions
    to their own) commits it through a unit of work, as `record` inside one would.
    """
    from app.database import reads_outside_transaction, unit_of_work

    if not reads_outside_transaction(session):
        with unit_of_work(session):
            record(session, action, actor, **fields)
        return
    event = record(session, action, actor, **fields)
    session.expunge(event)
    session.info[UNLOGGED].remove(event)
    columns = {attribute.key: getattr(event, attribute.key) for attribute in inspect(AuditEvent).column_attrs}
    session.connection().execute(insert(AuditEvent), [columns])
    _log_event(event)


def record_login_failure(
    session: Session, settings: Settings, tenant: Tenant | None, user: User | None, reason: str
) -> None:
    """One audit event per account per window, counting its failed logins, however many
    arrive: the audit log cannot be flooded by guessing (issue 15). The account is the user
    when the name exists, else the tenant (every unknown name of a tenant shares one
    event), else the unknown tenant. Commits on its own (the login itself changes nothing).
    """
    target_type, target_id = (
        ("user", str(user.id)) if user else ("tenant", str(tenant.id) if tenant else None)
    )
    record_counted_failure(
        session,
        AuditAction.LOGIN_FAILED,
        settings.login_failure_audit_window_seconds,
        reason,
        tenant_id=tenant.id if tenant else None,
        actor_id=user.id if user else None,
        target_type=target_type,
        target_id=target_id,
    )


def record_counted_failure(
    session: Session,
    action: AuditAction,
    window_seconds: int,
    reason: str,
    *,
    tenant_id: uuid.UUID | None,
    target_type: str,
    target_id: str | None,
    actor_id: uuid.UUID | None = None,
    latest: dict[str, Any] | None = None,
) -> None:
    """Count a failure into the newest `action` event of its target within the window, or
    make that event: one per target per window, however many failures arrive, so that
    nobody floods the audit log with them (issue 15). Its `details` hold `count`, `reasons`
    (a count per reason), the latest `reason`, `last_at`, and the `latest` details given
    (those of the latest failure that gave each). Commits on its own, before the caller
    answers.
    """
    from app.database import reads_outside_transaction, unit_of_work

    now = utcnow()
    since = now - timedelta(seconds=window_seconds)
    newest = (
        select(AuditEvent)
        .where(
            AuditEvent.tenant_id == tenant_id if tenant_id else AuditEvent.tenant_id.is_(None),
            AuditEvent.action == action.value,
            AuditEvent.created_at >= since,
            AuditEvent.target_type == target_type,
            AuditEvent.target_id == target_id if target_id else AuditEvent.target_id.is_(None),
        )
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(1)
    )
    latest = latest or {}
    counted = {"reason": reason, "last_at": now.isoformat()}
    first: dict[str, Any] = {
        "tenant_id": tenant_id,
        "actor_id": actor_id,
        "target_type": target_type,
        "target_id": target_id,
        "outcome": "failure",
        "details": {**latest, **counted, "count": 1, "reasons": {reason: 1}},
    }
    if reads_outside_transaction(session) and session.get_bind().dialect.name == "postgresql":
        if _count_in_one_statement(session, newest, {**latest, **counted}):
            return
        # The window's first failure: concurrent ones wait for it on an advisory lock of the
        # target (held until it commits), then count into the event it made.
        with unit_of_work(session):
            session.execute(select(func.pg_advisory_xact_lock(_lock_key(target_type, target_id))))
            if not _count_in_one_statement(session, newest, {**latest, **counted}):
                record(session, action, **first)
        return
    with unit_of_work(session):
        # Locked, so that concurrent failures add up instead of overwriting each other.
        current = session.scalars(newest.with_for_update()).first()
        if current is None:
            record(session, action, **first)
            return
        details = dict(current.details or {})
        reasons = dict(details.get("reasons") or {})
        reasons[reason] = reasons.get(reason, 0) + 1
        current.details = {
            **details,
            **latest,
            **counted,
            "count": int(details.get("count", 1)) + 1,
            "reasons": reasons,
        }


def _lock_key(*parts: str | None) -> int:
    """A PostgreSQL advisory lock key (a signed 64-bit integer) naming these parts."""
    digest = hashlib.sha256("\x00".join(part or "" for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _count_in_one_statement(session: Session, newest: Select[Any], latest: dict[str, Any]) -> bool:
    """PostgreSQL, a request reading outside a transaction: add the failure to the newest
    event in one autocommitted UPDATE (its `latest` details replacing the event's); False
    when there is none.

    The event's row is then locked only while PostgreSQL runs that statement, never across
    round trips (lock, update, commit): held while a worker is busy elsewhere (a gevent
    worker running another request's argon2), it kept every other failure of the account
    waiting, and as the unknown names of a tenant share one event, an unknown name answered
    slower under a flood than an existing user: an enumeration oracle (issue 15). A row
    updated concurrently is read again before it is changed, so concurrent failures add up.
    """
    current = cast(AuditEvent.details, JSONB)
    name = cast(literal(latest["reason"]), String)
    reasons = func.coalesce(current["reasons"], cast(literal("{}"), JSONB))
    counted = func.jsonb_build_object(
        "count",
        func.coalesce(cast(current["count"].astext, Integer), 1) + 1,
        "reasons",
        reasons.op("||")(
            func.jsonb_build_object(name, func.coalesce(cast(reasons.op("->>")(name), Integer), 0) + 1)
        ),
    )
    replaced = cast(literal(json.dumps(latest), String), JSONB)
    statement = (
        update(AuditEvent)
        .where(AuditEvent.id == newest.with_only_columns(AuditEvent.id).scalar_subquery())
        .values(details=cast(current.op("||")(replaced).op("||")(counted), JSON))
    )
    changed: int = session.connection().execute(statement).rowcount
    return changed > 0


@event.listens_for(Session, "after_commit")
def _log_committed_events(session: Session) -> None:
    """Every security event reaches the log too, once its transaction committed."""
    for committed in session.info.pop(UNLOGGED, ()):
        _log_event(committed)


def _log_event(committed: AuditEvent) -> None:
    SECURITY_LOG.info(
        committed.action,
        extra={
            "audit_event_id": str(committed.id),
            "outcome": committed.outcome,
            "event_tenant_id": str(committed.tenant_id) if committed.tenant_id else None,
            "actor_type": committed.actor_type,
            "actor_id": committed.actor_id,
            "target_type": committed.target_type,
            "target_id": committed.target_id,
            "details": committed.details,
        },
    )


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back_events(session: Session) -> None:
    session.info.pop(UNLOGGED, None)


def record_denial(principal: Principal, denial: Problem) -> str:
    """Audit a refused request (by a route's policy or a service's guard); returns the event
    id, which the problem response carries.

    In a short transaction of its own: whatever the request did is rolled back first (a
    denial ends it; a service's unit of work has rolled back already), so the event commits
    alone and nothing of the refused change goes with it.
    """
    from app.database import db_session, unit_of_work

    details = {
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule else request.path,
        "status": denial.status,
        "code": denial.code,
    }
    if "required_permissions" in denial.extra:
        details["required_permissions"] = denial.extra["required_permissions"]
    DENIALS.labels(details["route"], str(denial.status)).inc()
    session = db_session()
    session.rollback()
    with unit_of_work(session):
        event = record(
            session,
            AuditAction.ACCESS_DENIED,
            tenant_id=principal.tenant_id,
            actor=principal,
            outcome="denied",
            details=details,
        )
    return str(event.id)
