"""audit filter indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 23:21:59.052947
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))
        batch_op.drop_index(batch_op.f("ix_audit_events_tenant_id_actor_id_created_at"))
        batch_op.create_index(
            "ix_audit_events_tenant_id_action_created_at_id",
            ["tenant_id", "action", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_audit_events_tenant_id_actor_id_created_at_id",
            ["tenant_id", "actor_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_tenant_id_actor_id_created_at_id")
        batch_op.drop_index("ix_audit_events_tenant_id_action_created_at_id")
        batch_op.create_index(
            batch_op.f("ix_audit_events_tenant_id_actor_id_created_at"),
            ["tenant_id", "actor_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
