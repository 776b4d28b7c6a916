"""Custom roles: catalog permissions only, nobody grants what they do not hold, built-in
roles are immutable, and holders' older access tokens stop working when a role changes."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import AuditAction, record
from app.catalog.effective import ensure_grantable_now, held_now
from app.catalog.store import current_catalog
from app.database import flush_or_conflict, unit_of_work
from app.errors import Conflict
from app.pagination import paginate
from app.partial import UNCHANGED, Unchanged
from app.scoping import get_in_tenant, get_tenant
from app.security.revocation import invalidate_access_tokens
from models import Role, RolePermission, UserRole
from policies.principal import Principal
from policies.problems import NotFound, PermissionDenied

DUPLICATE_NAME = "A role with this name already exists in the tenant."
BUILTIN_IMMUTABLE = "Built-in roles cannot be changed or deleted; create a custom role instead."


def get_role(session: Session, tenant_id: uuid.UUID, role_id: uuid.UUID) -> Role:
    return get_in_tenant(session, Role, tenant_id, role_id)


def list_roles(
    session: Session, tenant_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[Role], str | None]:
    """Built-in and custom roles, oldest first; their permissions come in one more query
    (`Role.grants` is selectin-loaded), whatever the page size."""
    return paginate(session, select(Role).where(Role.tenant_id == tenant_id), Role, limit, cursor)


def create_role(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    name: str,
    description: str,
    permissions: Collection[str],
    actor: Principal,
) -> Role:
    tenant = get_tenant(session, tenant_id)
    ensure_grantable_now(
        session, actor, permissions, in_platform_tenant=tenant.is_platform, field="permissions"
    )
    wanted = sorted({str(p) for p in permissions})
    with unit_of_work(session):
        role = Role(
            tenant_id=tenant_id,
            name=name,
            description=description,
            builtin=False,
            grants=[RolePermission(permission=p) for p in wanted],
        )
        session.add(role)
        flush_or_conflict(session, DUPLICATE_NAME)
        record(
            session,
            AuditAction.ROLE_CREATED,
            actor,
            target=role,
            details={"name": name, "permissions": {"added": wanted, "removed": []}},
        )
    return role


def update_role(
    session: Session,
    tenant_id: uuid.UUID,
    role_id: uuid.UUID,
    *,
    actor: Principal,
    name: str | Unchanged = UNCHANGED,
    description: str | Unchanged = UNCHANGED,
    permissions: Collection[str] | Unchanged = UNCHANGED,
) -> Role:
    """Change what is given (app.partial).

    The editor must hold every permission the role carries before and after, even when
    only its name or description changes: editing a role is a grant to its holders, and
    nobody with less power strips a more powerful colleague (the rule of `delete_role`).
    """
    with unit_of_work(session):
        role = _custom_role(session, tenant_id, role_id, lock=True)
        tenant = get_tenant(session, tenant_id)
        current = {g.permission for g in role.grants}
        wanted = current if permissions is UNCHANGED else {str(p) for p in permissions}
        catalog = current_catalog(session)
        # A grant whose permission was removed from the catalog since is dropped, not checked.
        current = {p for p in current if catalog.knows(p)}
        ensure_grantable_now(
            session, actor, wanted | current, in_platform_tenant=tenant.is_platform, field="permissions"
        )

        details: dict[str, Any] = {}
        if name is not UNCHANGED and name != role.name:
            details["name"] = {"from": role.name, "to": name}
            role.name = name
        if description is not UNCHANGED and description != role.description:
            details["description"] = {"from": role.description, "to": description}
            role.description = description
        added, removed = sorted(wanted - current), sorted(current - wanted)
        if added or removed:
            details["permissions"] = {"added": added, "removed": removed}
            role.grants = [g for g in role.grants if g.permission in wanted] + [
                RolePermission(permission=p) for p in added
            ]
        if not details:
            return role
        flush_or_conflict(session, DUPLICATE_NAME)
        if "permissions" in details or "name" in details:
            # Holders' tokens carry the role's name and permissions: make them refresh (API.md,
            # "Immediate effect").
            invalidate_access_tokens(session, _holder_ids(session, role))
        record(session, AuditAction.ROLE_UPDATED, actor, target=role, details=details)
    return role


def delete_role(session: Session, tenant_id: uuid.UUID, role_id: uuid.UUID, *, actor: Principal) -> None:
    """Delete a custom role; its memberships go with it (ON DELETE CASCADE).

    Deleting takes permissions away from the holders, so, as for an edit, the caller must
    hold every one of them: nobody with less power strips a more powerful colleague.
    """
    with unit_of_work(session):
        role = _custom_role(session, tenant_id, role_id)
        carried = role.permissions
        catalog = current_catalog(session)
        missing = sorted({p for p in carried if catalog.knows(p)} - held_now(session, actor, catalog))
        if missing:
            detail = f"You cannot delete a role carrying permissions you do not hold: {', '.join(missing)}."
            raise PermissionDenied(missing, detail=detail)
        holders = _holder_ids(session, role)
        invalidate_access_tokens(session, holders)
        session.delete(role)
        record(
            session,
            AuditAction.ROLE_DELETED,
            actor=actor,
            target=role,
            details={
                "name": role.name,
                "permissions": {"added": [], "removed": carried},
                "holders": len(holders),
            },
        )


def _custom_role(session: Session, tenant_id: uuid.UUID, role_id: uuid.UUID, *, lock: bool = False) -> Role:
    """The tenant's custom role; with `lock`, its row is locked until commit (FOR UPDATE).

    An edit locks the role so that an assignment of it waits (inserting a membership takes
    a KEY SHARE lock on the role through the foreign key, which FOR UPDATE excludes): else
    the edit's holder list, read before the assignment commits, misses the new holder, who
    logs in meanwhile with the old grants and keeps them for a token's lifetime (review
    finding 12, tests/test_role_edit_race.py). Either the assignment commits first and the
    edit then lists its holder, or it waits and grants the edited role.
    """
    if lock:
        role = session.scalars(
            select(Role)
            .where(Role.tenant_id == tenant_id, Role.id == role_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if role is None:
            raise NotFound()
    else:
        role = get_in_tenant(session, Role, tenant_id, role_id)
    if role.builtin:
        raise Conflict(BUILTIN_IMMUTABLE)
    return role


def _holder_ids(session: Session, role: Role) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(UserRole.user_id).where(UserRole.tenant_id == role.tenant_id, UserRole.role_id == role.id)
        )
    )
