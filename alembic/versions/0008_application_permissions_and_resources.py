"""application permissions, resources, a reserved condition per grant; built-in roles derived

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-01 21:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import models.base
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the built-in roles carried as rows before they were derived from the catalog (downgrade).
_BEFORE = {
    "admin": [
        "tenant:read",
        "tenant:write",
        "users:read",
        "users:write",
        "roles:read",
        "roles:write",
        "clients:read",
        "clients:write",
        "audit:read",
        "projects:read",
        "projects:write",
        "projects:manage",
    ],
    "member": ["tenant:read", "users:read", "roles:read", "projects:read", "projects:write"],
}
_BEFORE["platform-admin"] = [*_BEFORE["admin"], "platform:read", "platform:write"]


def upgrade() -> None:
    op.create_table(
        "application_permissions",
        sa.Column("name", sa.String(length=127), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("owner_override", sa.String(length=127), nullable=True),
        sa.Column("member", sa.Boolean(), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_application_permissions")),
    )
    op.create_table(
        "resources",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_resources_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_resources_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
        sa.UniqueConstraint(
            "tenant_id", "type", "external_id", name=op.f("uq_resources_tenant_id_type_external_id")
        ),
    )
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resources_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(
            "ix_resources_tenant_id_type_created_at_id",
            ["tenant_id", "type", "created_at", "id"],
            unique=False,
        )
    with op.batch_alter_table("role_permissions", schema=None) as batch_op:
        batch_op.alter_column(
            "permission",
            existing_type=sa.String(length=64),
            type_=sa.String(length=127),
            existing_nullable=False,
        )
        batch_op.add_column(sa.Column("condition", sa.String(length=2000), nullable=True))
    # Built-in roles are derived from the catalog when read: their rows would only go stale.
    op.execute("DELETE FROM role_permissions WHERE role_id IN (SELECT id FROM roles WHERE builtin = true)")


def downgrade() -> None:
    roles = sa.table("roles", sa.column("id", sa.Uuid()), sa.column("name"), sa.column("builtin"))
    grants = sa.table("role_permissions", sa.column("role_id", sa.Uuid()), sa.column("permission"))
    connection = op.get_bind()
    # Application permissions do not exist before this revision.
    connection.execute(
        grants.delete()
        .where(grants.c.permission.like("%:%"))
        .where(~grants.c.permission.in_(_BEFORE["platform-admin"]))
    )
    for role_id, name in connection.execute(sa.select(roles.c.id, roles.c.name).where(roles.c.builtin)):
        for permission in _BEFORE.get(name, []):
            connection.execute(grants.insert().values(role_id=role_id, permission=permission))
    with op.batch_alter_table("role_permissions", schema=None) as batch_op:
        batch_op.drop_column("condition")
        batch_op.alter_column(
            "permission",
            existing_type=sa.String(length=127),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_index("ix_resources_tenant_id_type_created_at_id")
        batch_op.drop_index(batch_op.f("ix_resources_owner_id"))
    op.drop_table("resources")
    op.drop_table("application_permissions")
