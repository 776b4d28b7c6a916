"""Application permissions: the platform's own `<resource>:<action>` names, beside the
built-in catalog (policies.catalog), shared by every tenant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, utcnow


class ApplicationPermission(CreatedAt, Base):
    __tablename__ = "application_permissions"

    name: Mapped[str] = mapped_column(String(127), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    # Another permission that lifts the ownership rule (as projects:manage does for projects:write).
    owner_override: Mapped[str | None] = mapped_column(String(127))
    # The built-in `member` role holds it.
    member: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
