"""Roles per tenant and the permissions they grant."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt, UUIDPrimaryKey


class Role(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "roles"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("tenant_id", "id"),
        Index("ix_roles_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)

    grants: Mapped[list[RolePermission]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @property
    def permissions(self) -> list[str]:
        return sorted(g.permission for g in self.grants)


class RolePermission(Base):
    """One permission of the catalog granted by a role (stored by its name)."""

    __tablename__ = "role_permissions"

    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(127), primary_key=True)
    # ROADMAP "Conditions on grants": a CEL expression per grant. Reserved: nothing sets or
    # evaluates it yet, and a decision refuses (denies) a grant that carries one.
    condition: Mapped[str | None] = mapped_column(String(2000), default=None)
