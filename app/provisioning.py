"""Creating tenants with their built-in roles, and users with roles: shared by the API,
`bootstrap` and `demo`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    PLATFORM_TENANT_SLUG,
    Role,
    RolePermission,
    Tenant,
    User,
    UserRole,
    username_key,
    username_skeleton,
)
from policies.catalog import (
    BUILTIN_ROLE_DESCRIPTIONS,
    PLATFORM_BUILTIN_ROLES,
    TENANT_BUILTIN_ROLES,
    BuiltinRole,
)


def create_tenant(session: Session, slug: str, name: str) -> Tenant:
    """A tenant and its built-in roles (the platform tenant also gets `platform-admin`)."""
    tenant = Tenant(slug=slug, name=name)
    session.add(tenant)
    session.flush()
    add_builtin_roles(session, tenant)
    return tenant


def add_builtin_roles(session: Session, tenant: Tenant) -> None:
    """A new tenant's built-in roles (the platform tenant also gets `platform-admin`)."""
    builtins = PLATFORM_BUILTIN_ROLES if tenant.slug == PLATFORM_TENANT_SLUG else TENANT_BUILTIN_ROLES
    for role_name in builtins:
        # No permission rows: a built-in role's permissions are derived from the catalog when
        # read (policies.derivation), so a permission added later reaches existing tenants.
        add_role(
            session, tenant, role_name, (), description=BUILTIN_ROLE_DESCRIPTIONS[role_name], builtin=True
        )


def add_role(
    session: Session,
    tenant: Tenant,
    name: str,
    permissions: Iterable[str],
    *,
    description: str = "",
    builtin: bool = False,
) -> Role:
    role = Role(
        tenant_id=tenant.id,
        name=name,
        description=description,
        builtin=builtin,
        grants=[RolePermission(permission=str(p)) for p in sorted(set(permissions))],
    )
    session.add(role)
    session.flush()
    return role


def create_user(
    session: Session,
    tenant: Tenant,
    username: str,
    password_hash: str,
    *,
    roles: Iterable[Role] = (),
    email: str | None = None,
) -> User:
    user = User(
        tenant_id=tenant.id,
        username=username,
        username_key=username_key(username),
        username_skeleton=username_skeleton(username),
        email=email,
        password_hash=password_hash,
    )
    session.add(user)
    session.flush()
    for role in roles:
        user.memberships.append(UserRole(tenant_id=tenant.id, user_id=user.id, role_id=role.id, role=role))
    session.flush()
    return user


def roles_by_name(session: Session, tenant: Tenant, names: Iterable[str]) -> dict[str, Role]:
    wanted = set(names)
    found = session.scalars(select(Role).where(Role.tenant_id == tenant.id, Role.name.in_(wanted)))
    return {role.name: role for role in found}


def builtin_role(session: Session, tenant: Tenant, role: BuiltinRole) -> Role:
    return session.scalars(select(Role).where(Role.tenant_id == tenant.id, Role.name == role.value)).one()
