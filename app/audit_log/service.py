"""Reading the audit log: one tenant's events, newest first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.audit import AuditAction
from app.pagination import paginate
from models import AuditEvent


def events_query(
    tenant_id: uuid.UUID,
    *,
    action: AuditAction | None = None,
    actor_id: str | None = None,
    since: datetime | None = None,
) -> Select[Any]:
    """The tenant's events matching every given filter (unordered; the page orders them)."""
    stmt = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action.value)
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.created_at >= since)
    return stmt


def list_events(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    action: AuditAction | None,
    actor_id: str | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AuditEvent], str | None]:
    stmt = events_query(tenant_id, action=action, actor_id=actor_id, since=since)
    return paginate(session, stmt, AuditEvent, limit, cursor, newest_first=True)
