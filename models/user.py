"""Users and their role memberships."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt, UUIDPrimaryKey, utcnow
from models.confusables import skeleton
from models.role import Role
from models.tenant import Tenant


def username_key(username: str) -> str:
    """The form usernames are compared in: NFKC, case-folded, NFKC again.

    Case folding can leave a string that is no longer NFKC (e.g. some ligatures), so the
    second normalisation makes the key stable (Unicode TR #15 / UTS #39 skeleton advice).
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


MAX_SKELETON_LENGTH = 600  # fits a PostgreSQL b-tree entry at 4 bytes a character


def username_skeleton(username: str) -> str:
    """How a username looks, whatever its case: names that look the same have the same
    skeleton, and a tenant holds each skeleton once.

    The UTS #39 skeleton of the name as written comes first (a capital I looks like a small
    L only before case folding: "aIice" is "alice"), then the comparison key of that, and
    its skeleton again (a prototype may be a capital letter: "BOB" and "B0B")."""
    return skeleton(username_key(skeleton(unicodedata.normalize("NFKC", username))))


class User(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "username_key"),
        # Look-alike names are duplicates (NULL: a name that predates the rule and collides).
        UniqueConstraint("tenant_id", "username_skeleton"),
        # Target of the composite foreign keys that keep memberships inside one tenant.
        UniqueConstraint("tenant_id", "id"),
        Index("ix_users_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(150))
    username_key: Mapped[str] = mapped_column(String(150))
    username_skeleton: Mapped[str | None] = mapped_column(String(MAX_SKELETON_LENGTH))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None]
    # Stamped into every token as `authz_ver`; bumped when roles change, so that every
    # older token is refused on its next request while the session itself survives.
    authz_version: Mapped[int] = mapped_column(default=1)

    # Joined on the id alone: tenant_id of a membership is set explicitly by the service,
    # and the composite foreign keys make the database refuse a cross-tenant membership.
    tenant: Mapped[Tenant] = relationship()
    memberships: Mapped[list[UserRole]] = relationship(
        back_populates="user",
        primaryjoin="User.id == foreign(UserRole.user_id)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def role_names(self) -> list[str]:
        return sorted(m.role.name for m in self.memberships)


class UserRole(Base):
    """Membership of a user in a role; both sides must belong to the same tenant."""

    __tablename__ = "user_roles"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "role_id"], ["roles.tenant_id", "roles.id"], ondelete="CASCADE"),
        Index("ix_user_roles_role_id", "role_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    role_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(
        back_populates="memberships", primaryjoin="User.id == foreign(UserRole.user_id)"
    )
    role: Mapped[Role] = relationship(primaryjoin="Role.id == foreign(UserRole.role_id)", lazy="joined")
