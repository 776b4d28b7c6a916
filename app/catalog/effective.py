"""Loading what the derivation (policies.derivation) needs, for users, clients and roles.

Login, refresh, the token endpoint, the decision API and the grant guards all come here;
none of them unions role grants on its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from app.catalog.store import current_catalog
from models import PLATFORM_TENANT_SLUG, Client, Role, RolePermission, Tenant, User, UserRole
from policies.derivation import Catalog, effective_permissions
from policies.grants import ensure_grantable
from policies.principal import Principal, PrincipalKind


@dataclass(frozen=True)
class Access:
    roles: list[str]
    permissions: frozenset[str]


# A user's roles with each of their grants (built once: login, refresh and decisions run it).
USER_GRANTS = (
    select(Role.name, Role.builtin, RolePermission.permission)
    .join(UserRole, UserRole.role_id == Role.id)
    # A grant carrying a condition counts for nothing until conditions are evaluated (ROADMAP).
    .outerjoin(RolePermission, and_(RolePermission.role_id == Role.id, RolePermission.condition.is_(None)))
    .where(UserRole.user_id == bindparam("user_id"), Role.tenant_id == bindparam("tenant_id"))
)


def user_access(
    session: Session, user_id: uuid.UUID, tenant: Tenant, catalog: Catalog | None = None
) -> Access:
    """A user's role names and effective permissions now: one query (plus the cached catalog)."""
    catalog = catalog or current_catalog(session)
    rows = session.execute(USER_GRANTS, {"user_id": user_id, "tenant_id": tenant.id}).all()
    return access_from_rows(catalog, rows, in_platform_tenant=tenant.is_platform)


def access_from_rows(
    catalog: Catalog, rows: Iterable[tuple[str, bool, str | None]], *, in_platform_tenant: bool
) -> Access:
    """(role name, builtin, granted permission) rows of one user, derived."""
    rows = list(rows)
    builtin = {name for name, is_builtin, _ in rows if is_builtin}
    granted = {permission for _, is_builtin, permission in rows if permission and not is_builtin}
    permissions = effective_permissions(
        catalog, builtin_roles=builtin, granted=granted, in_platform_tenant=in_platform_tenant
    )
    return Access(sorted({name for name, _, _ in rows}), permissions)


def client_permissions(
    catalog: Catalog, client: Client, *, in_platform_tenant: bool, owner_bound: frozenset[str] | None = None
) -> frozenset[str]:
    """A client's effective scopes now. `owner_bound` is its owner's effective set now: a
    client never holds more than its owner (API.md, Client)."""
    return effective_permissions(
        catalog, granted=client.scopes, in_platform_tenant=in_platform_tenant, bound=owner_bound
    )


# The owner's row and tenant with each of their grants in that tenant (built once: it runs on
# every token request). The owner may belong to another tenant than the client: a platform
# operator creates clients for the tenants.
# An owner's row with each of their grants, in their own tenant (which need not be their
# client's: a platform operator makes clients for the tenants).
_OWNERS_GRANTS = (
    select(
        User.id,
        User.is_active,
        Tenant.slug.label("tenant_slug"),
        Role.name,
        Role.builtin,
        RolePermission.permission,
    )
    .select_from(User)
    .join(Tenant, Tenant.id == User.tenant_id)
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .outerjoin(Role, and_(Role.id == UserRole.role_id, Role.tenant_id == User.tenant_id))
    # A grant carrying a condition counts for nothing until conditions are evaluated (ROADMAP).
    .outerjoin(RolePermission, and_(RolePermission.role_id == Role.id, RolePermission.condition.is_(None)))
)
OWNER_GRANTS = _OWNERS_GRANTS.where(User.id == bindparam("owner_id"))


def _owner_held(rows: Sequence[Any], catalog: Catalog) -> frozenset[str] | None:
    """One owner's rows of `_OWNERS_GRANTS`: what they hold, None when gone or inactive."""
    if not rows or not rows[0].is_active:
        return None
    grants = [(row.name, row.builtin, row.permission) for row in rows if row.name is not None]
    in_platform = rows[0].tenant_slug == PLATFORM_TENANT_SLUG
    return access_from_rows(catalog, grants, in_platform_tenant=in_platform).permissions


def owner_permissions(
    session: Session, owner_id: uuid.UUID | None, catalog: Catalog
) -> frozenset[str] | None:
    """What the owner holds now (their roles, in their own tenant); None when the owner is
    gone or inactive. One query: the owner's row with each of their grants."""
    if owner_id is None:
        return None
    return _owner_held(session.execute(OWNER_GRANTS, {"owner_id": owner_id}).all(), catalog)


def owners_permissions(
    session: Session, owner_ids: Collection[uuid.UUID], catalog: Catalog
) -> dict[uuid.UUID, frozenset[str] | None]:
    """`owner_permissions` of many owners in one query (a batch of decisions)."""
    if not owner_ids:
        return {}
    by_owner: dict[uuid.UUID, list[Any]] = {owner_id: [] for owner_id in owner_ids}
    for row in session.execute(_OWNERS_GRANTS.where(User.id.in_(owner_ids))).all():
        by_owner[row.id].append(row)
    return {owner_id: _owner_held(rows, catalog) for owner_id, rows in by_owner.items()}


def effective_scopes(
    session: Session, client: Client, tenant: Tenant, catalog: Catalog | None = None
) -> frozenset[str] | None:
    """The client's scopes that its owner still holds, through the one derivation
    (policies.derivation: catalog, platform-only permissions); None when it has no active owner."""
    catalog = catalog or current_catalog(session)
    held = owner_permissions(session, client.created_by, catalog)
    if held is None:
        return None
    return client_permissions(catalog, client, in_platform_tenant=tenant.is_platform, owner_bound=held)


def role_permissions(role: Role, catalog: Catalog, *, in_platform_tenant: bool) -> frozenset[str]:
    """What a role grants now: a built-in role's set is derived, a custom role's is its grants."""
    if role.builtin:
        return effective_permissions(
            catalog, builtin_roles=[role.name], in_platform_tenant=in_platform_tenant
        )
    return effective_permissions(
        catalog, granted=[g.permission for g in role.grants], in_platform_tenant=in_platform_tenant
    )


def held_now(session: Session, actor: Principal, catalog: Catalog | None = None) -> frozenset[str]:
    """What the caller holds now, for the grant guards: the derivation from the database,
    narrowed to the built-in permissions its token carries (a client may have asked for fewer
    scopes). Application permissions count as the database says for a user (one defined
    after the token was issued is held: its admin role derives it) and as the token says for
    a client, unless the token's claim left them out (its size cap)."""
    catalog = catalog or current_catalog(session)
    tenant = session.get_one(Tenant, actor.tenant_id)
    if actor.kind is PrincipalKind.USER and actor.subject_uuid is not None:
        now = user_access(session, actor.subject_uuid, tenant, catalog).permissions
    else:
        client = session.scalars(
            select(Client).where(Client.client_id == actor.subject, Client.tenant_id == actor.tenant_id)
        ).one_or_none()
        if client is None:
            return frozenset()
        now = effective_scopes(session, client, tenant, catalog) or frozenset()
    carried = set(actor.permissions)
    if actor.kind is PrincipalKind.USER or actor.permissions_partial:
        carried |= catalog.application.keys()
    return now & frozenset(carried)


def ensure_grantable_now(
    session: Session,
    actor: Principal,
    permissions: Iterable[str],
    *,
    in_platform_tenant: bool,
    field: str,
) -> None:
    """policies.grants.ensure_grantable against the catalog and the caller's permissions now."""
    catalog = current_catalog(session)
    ensure_grantable(
        held_now(session, actor, catalog),
        permissions,
        catalog=catalog,
        in_platform_tenant=in_platform_tenant,
        field=field,
    )
