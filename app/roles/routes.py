"""`/tenants/{tid}/roles`: the tenant's built-in and custom roles."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag

from app.catalog.effective import role_permissions
from app.catalog.store import current_catalog
from app.database import db_session
from app.partial import sent
from app.roles import service
from app.roles.schemas import RoleCreate, RoleOut, RolePage, RolePath, RoleUpdate
from app.schemas import PROBLEM_RESPONSES, PageQuery, ProblemOut, TenantPath, page_of
from app.scoping import get_tenant
from models import Role
from policies import Permission, current_principal, tenant_scoped

bp = APIBlueprint("roles", __name__, url_prefix="/tenants/<uuid:tid>/roles", abp_tags=[Tag(name="roles")])


def out(role: Role, in_platform_tenant: bool | None = None) -> dict[str, Any]:
    """A role as read: a built-in role's permissions derived from the catalog now."""
    session = db_session()
    if in_platform_tenant is None:
        in_platform_tenant = get_tenant(session, role.tenant_id).is_platform
    permissions = role_permissions(role, current_catalog(session), in_platform_tenant=in_platform_tenant)
    return {**RoleOut.model_validate(role).model_dump(mode="json"), "permissions": sorted(permissions)}


@bp.get("", responses={200: RolePage, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.ROLES_READ)
def list_roles(path: TenantPath, query: PageQuery) -> dict[str, Any]:
    """The tenant's roles, built-in ones included, oldest first, a page at a time."""
    items, next_cursor = service.list_roles(db_session(), path.tid, limit=query.limit, cursor=query.cursor)
    in_platform_tenant = get_tenant(db_session(), path.tid).is_platform
    return page_of([out(r, in_platform_tenant) for r in items], next_cursor)


@bp.post("", responses={201: RoleOut, 409: ProblemOut, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.ROLES_WRITE)
def create_role(path: TenantPath, body: RoleCreate) -> tuple[dict[str, Any], int]:
    """Create a custom role carrying only permissions the caller holds."""
    role = service.create_role(
        db_session(),
        path.tid,
        name=body.name,
        description=body.description,
        permissions=body.permissions,
        actor=current_principal(),
    )
    return out(role), 201


@bp.get("/<uuid:rid>", responses={200: RoleOut, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.ROLES_READ)
def get_role(path: RolePath) -> dict[str, Any]:
    """One role of the tenant."""
    return out(service.get_role(db_session(), path.tid, path.rid))


@bp.patch("/<uuid:rid>", responses={200: RoleOut, 409: ProblemOut, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.ROLES_WRITE)
def update_role(path: RolePath, body: RoleUpdate) -> dict[str, Any]:
    """Rename a custom role, or change its description or permissions; holders re-authenticate
    through their refresh token."""
    role = service.update_role(
        db_session(),
        path.tid,
        path.rid,
        actor=current_principal(),
        **sent(body),
    )
    return out(role)


@bp.delete("/<uuid:rid>", responses={204: None, 409: ProblemOut, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.ROLES_WRITE)
def delete_role(path: RolePath) -> tuple[str, int]:
    """Delete a custom role and every membership in it."""
    service.delete_role(db_session(), path.tid, path.rid, actor=current_principal())
    return "", 204
