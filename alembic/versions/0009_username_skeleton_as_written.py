"""usernames: the skeleton of the name as written, then case-folded

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:15:00

0006 took the skeleton of the case-folded key, where a capital I had already become a
small i: "aIice" could be created beside "alice". Every user's skeleton is computed again
(models.user.username_skeleton); where two existing names of a tenant now look alike, the
older keeps the skeleton and the newer gets NULL, as in 0006: both keep logging in.
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from alembic import op
from models.confusables import skeleton
from models.user import MAX_SKELETON_LENGTH, username_key, username_skeleton

revision: str = "0009"
down_revision: str | None = "0008"
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


def _recompute(skeleton_of: Callable[[str], str]) -> None:
    connection = op.get_bind()
    connection.execute(sa.update(users).values(username_skeleton=None))  # no clash while rewriting
    taken: set[tuple[object, str]] = set()
    values = []
    rows = connection.execute(
        sa.select(users.c.id, users.c.tenant_id, users.c.username).order_by(users.c.created_at, users.c.id)
    ).all()
    for user_id, tenant_id, username in rows:
        value = skeleton_of(username)
        if (tenant_id, value) in taken or len(value) > MAX_SKELETON_LENGTH:
            continue  # an existing look-alike (or an absurdly long name) keeps NULL
        taken.add((tenant_id, value))
        values.append({"user_id": user_id, "value": value})
    if values:
        connection.execute(
            sa.update(users)
            .where(users.c.id == sa.bindparam("user_id"))
            .values(username_skeleton=sa.bindparam("value")),
            values,
        )


def upgrade() -> None:
    _recompute(username_skeleton)


def downgrade() -> None:
    _recompute(lambda username: skeleton(username_key(username)))  # 0006's skeleton
