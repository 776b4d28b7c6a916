"""Resources the platform registers for decisions and searches: per tenant, by type and the
platform's own id, with an optional owner and free properties."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, UUIDPrimaryKey, utcnow


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
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
