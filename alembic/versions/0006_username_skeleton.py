"""usernames: the confusables skeleton, unique per tenant

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01 21:50:00

Existing users get the skeleton of their name. Where two existing names of a tenant
already look alike, the older keeps the skeleton and the newer gets NULL: both keep
logging in, and no new name can look like either.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from models.user import MAX_SKELETON_LENGTH, username_skeleton

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("tenant_id", sa.Uuid()),
    sa.column("username", sa.String()),
    sa.column("created_at", sa.DateTime()),
    sa.column("username_skeleton", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("username_skeleton", sa.String(length=MAX_SKELETON_LENGTH), nullable=True)
        )
    connection = op.get_bind()
    taken: set[tuple[object, str]] = set()
    rows = connection.execute(
        sa.select(users.c.id, users.c.tenant_id, users.c.username).order_by(users.c.created_at, users.c.id)
    ).all()
    for user_id, tenant_id, username in rows:
        value = username_skeleton(username)
        if (tenant_id, value) in taken or len(value) > MAX_SKELETON_LENGTH:
            continue  # an existing look-alike (or an absurdly long name) keeps NULL
        taken.add((tenant_id, value))
        connection.execute(sa.update(users).where(users.c.id == user_id).values(username_skeleton=value))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_users_tenant_id_username_skeleton"), ["tenant_id", "username_skeleton"]
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_tenant_id_username_skeleton"), type_="unique")
        batch_op.drop_column("username_skeleton")
