"""`/tenants`: the platform's list of tenants, and each tenant's own profile."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_openapi3 import APIBlueprint, Tag

from app.database import db_session
from app.partial import sent
from app.schemas import PROBLEM_RESPONSES, ProblemOut, TenantPath, page_of
from app.scoping import get_tenant as load_tenant
from app.tenants import service
from app.tenants.schemas import TenantCreate, TenantListQuery, TenantOut, TenantPage, TenantUpdate
from policies import Permission, current_principal, require, tenant_scoped

bp = APIBlueprint("tenants", __name__, url_prefix="/tenants", abp_tags=[Tag(name="tenants")])


def out(tenant: Any) -> dict[str, Any]:
    return TenantOut.model_validate(tenant).model_dump(mode="json")


@bp.get("", responses={200: TenantPage, **PROBLEM_RESPONSES})
@require(Permission.PLATFORM_READ)
def list_tenants(query: TenantListQuery) -> dict[str, Any]:
    """Every tenant, oldest first, a page at a time (platform operators)."""
    items, next_cursor = service.list_tenants(
        db_session(), status=query.status, limit=query.limit, cursor=query.cursor
    )
    return page_of([out(t) for t in items], next_cursor)


@bp.post("", responses={201: TenantOut, 409: ProblemOut, **PROBLEM_RESPONSES})
@require(Permission.PLATFORM_WRITE)
def create_tenant(body: TenantCreate) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create a tenant with its built-in roles `admin` and `member` (platform operators)."""
    tenant = service.create_tenant(db_session(), body.slug, body.name, current_principal())
    return out(tenant), 201, {"Location": url_for(".get_tenant", tid=tenant.id)}


@bp.get("/<uuid:tid>", responses={200: TenantOut, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.TENANT_READ)
def get_tenant(path: TenantPath) -> dict[str, Any]:
    """The tenant's profile."""
    return out(load_tenant(db_session(), path.tid))


@bp.patch("/<uuid:tid>", responses={200: TenantOut, 409: ProblemOut, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.TENANT_WRITE, field_permissions={"status": Permission.PLATFORM_WRITE})
def update_tenant(path: TenantPath, body: TenantUpdate) -> dict[str, Any]:
    """Rename the tenant; suspend or reactivate it (`status`, platform:write only)."""
    tenant = service.update_tenant(db_session(), path.tid, actor=current_principal(), **sent(body))
    return out(tenant)
