"""keyset pagination indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:02:53.247660
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_tenant_id_actor_id_created_at",
            ["tenant_id", "actor_id", "created_at"],
            unique=False,
        )

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_tenant_id"))
        batch_op.create_index(
            "ix_clients_tenant_id_created_at_id", ["tenant_id", "created_at", "id"], unique=False
        )

    with op.batch_alter_table("roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roles_tenant_id"))
        batch_op.create_index(
            "ix_roles_tenant_id_created_at_id", ["tenant_id", "created_at", "id"], unique=False
        )

    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.create_index("ix_tenants_created_at_id", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_index("ix_tenants_created_at_id")

    with op.batch_alter_table("roles", schema=None) as batch_op:
        batch_op.drop_index("ix_roles_tenant_id_created_at_id")
        batch_op.create_index(batch_op.f("ix_roles_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_tenant_id_created_at_id")
        batch_op.create_index(batch_op.f("ix_clients_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_tenant_id_actor_id_created_at")
