"""Rows inserted in bulk, for tests that show a cost does not grow with the data."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import insert
from sqlalchemy.orm import Session

from models import Project, Role, RolePermission, Tenant, User, UserRole, utcnow


def roles(
    db: Session,
    tenant: Tenant,
    count: int,
    permissions: Sequence[str] = ("projects:read",),
    holder: User | None = None,
) -> list[uuid.UUID]:
    """`count` custom roles granting `permissions`, all held by `holder` when given."""
    now = utcnow()
    ids = [uuid.uuid4() for _ in range(count)]
    db.execute(
        insert(Role),
        [
            {
                "id": r,
                "tenant_id": tenant.id,
                "name": f"bulk-{r.hex}",
                "description": "",
                "builtin": False,
                "created_at": now,
            }
            for r in ids
        ],
    )
    db.execute(insert(RolePermission), [{"role_id": r, "permission": p} for r in ids for p in permissions])
    if holder is not None:
        db.execute(
            insert(UserRole),
            [{"tenant_id": tenant.id, "user_id": holder.id, "role_id": r, "created_at": now} for r in ids],
        )
    return ids


def users(db: Session, tenant: Tenant, numbers: Iterable[int], role: Role | None = None) -> list[uuid.UUID]:
    """Active users `bulk<n>` for each n, members of `role` when given."""
    now = utcnow()
    ids = []
    rows = []
    for n in numbers:
        ids.append(uuid.uuid4())
        rows.append(
            {
                "id": ids[-1],
                "tenant_id": tenant.id,
                "username": f"bulk{n}",
                "username_key": f"bulk{n}",
                "password_hash": "x",
                "is_active": True,
                "authz_version": 1,
                "created_at": now,
            }
        )
    db.execute(insert(User), rows)
    if role is not None:
        db.execute(
            insert(UserRole),
            [{"tenant_id": tenant.id, "user_id": i, "role_id": role.id, "created_at": now} for i in ids],
        )
    return ids


def projects(db: Session, tenant: Tenant, owner: User, count: int) -> None:
    now = utcnow()
    db.execute(
        insert(Project),
        [
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant.id,
                "name": f"bulk project {i}",
                "owner_id": owner.id,
                "created_at": now,
            }
            for i in range(count)
        ],
    )
