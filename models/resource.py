"""Resources the platform registers for decisions and searches: per tenant, by type and the
platform's own id, with an optional owner and free properties."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, UUIDPrimaryKey, utcnow


def one_instant(context: DefaultExecutionContext) -> datetime:
    """The INSERT default of `created_at` and `updated_at` alike, so that a new row has one
    instant: whichever default runs first reads the clock, the other takes its value (or the
    value given explicitly). Two separate clock reads left them apart, updated_at first."""
    row = context.get_current_parameters()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
    instant: datetime = row.get("created_at") or row.get("updated_at") or utcnow()
    return instant


class Resource(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("tenant_id", "type", "external_id"),
        # Keyset pages of one type walk (created_at, id) within the tenant and type.
        Index("ix_resources_tenant_id_type_created_at_id", "tenant_id", "type", "created_at", "id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(63))
    external_id: Mapped[str] = mapped_column(String(256))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=one_instant)
    # Set by each replace (app.resources.service), never back in time: no `onupdate`, which
    # would read the clock again when the value set is the one already stored.
    updated_at: Mapped[datetime] = mapped_column(default=one_instant)
