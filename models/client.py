"""Integration clients: per-tenant machine credentials (OAuth 2.0 client credentials)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, UUIDPrimaryKey


class Client(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "clients"
    __table_args__ = (Index("ix_clients_tenant_id_created_at_id", "tenant_id", "created_at", "id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    secret_rotated_at: Mapped[datetime | None]
    # Stamped into its tokens as `authz_ver`; bumped on secret rotation or scope change.
    authz_version: Mapped[int] = mapped_column(default=1)
