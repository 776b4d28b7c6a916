"""Tenants: the isolation boundary of everything else."""

from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, UUIDPrimaryKey

PLATFORM_TENANT_SLUG = "platform"
TENANT_SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended')", name="status_known"),
        Index("ix_tenants_created_at_id", "created_at", "id"),
    )

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=TenantStatus.ACTIVE)

    @property
    def is_platform(self) -> bool:
        return self.slug == PLATFORM_TENANT_SLUG

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE
