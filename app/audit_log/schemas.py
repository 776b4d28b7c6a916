from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints, field_validator

from app.audit import AuditAction
from app.instants import NotAnInstant, parse_instant
from app.schemas import NO_CONTROL, Out, PageQuery

# A user's UUID or an integration's client_id (the token's `sub`), as stored.
ActorId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_CONTROL)]
SINCE_FORMAT = "must be an ISO 8601 date-time with a timezone, e.g. 2026-01-31T09:00:00Z (send '+' as %2B)"


class AuditEventQuery(PageQuery):
    action: AuditAction | None = None
    actor_id: ActorId | None = None
    since: datetime | None = None

    @field_validator("since", mode="before")
    @classmethod
    def _iso_8601_with_timezone(cls, value: Any) -> datetime:
        # Stricter than pydantic's parser, which also takes Unix timestamps and naive times:
        # a time without its zone means a different instant to each reader.
        try:
            return parse_instant(value)
        except NotAnInstant:
            raise ValueError(SINCE_FORMAT) from None


class AuditEventOut(Out):
    id: uuid.UUID
    tenant_id: uuid.UUID
    created_at: datetime
    action: str
    outcome: str
    actor_type: str | None
    actor_id: str | None
    target_type: str | None
    target_id: str | None
    ip_address: str | None
    request_id: str | None = None  # the X-Request-ID of the request that wrote it
    details: dict[str, Any]


class AuditEventPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None
