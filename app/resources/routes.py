"""`/tenants/{tid}/resources`: what the platform registers for decisions and searches."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag

from app.database import db_session
from app.resources import service
from app.resources.schemas import (
    ResourceListQuery,
    ResourceOut,
    ResourcePage,
    ResourcePath,
    ResourcePut,
)
from app.schemas import PROBLEM_RESPONSES, TenantPath, page_of
from app.scoping import get_resource
from models import Resource
from policies import Permission, current_principal, tenant_scoped

bp = APIBlueprint(
    "resources", __name__, url_prefix="/tenants/<uuid:tid>/resources", abp_tags=[Tag(name="resources")]
)


def out(resource: Resource) -> dict[str, Any]:
    return ResourceOut.model_validate(
        {
            "type": resource.type,
            "id": resource.external_id,
            "owner_id": resource.owner_id,
            "properties": resource.properties,
            "created_at": resource.created_at,
            "updated_at": resource.updated_at,
        }
    ).model_dump(mode="json")


@bp.get("", responses={200: ResourcePage, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.RESOURCES_READ)
def list_resources(path: TenantPath, query: ResourceListQuery) -> dict[str, Any]:
    """The tenant's registered resources (of one `type` when given), oldest first, a page at a time."""
    items, next_cursor = service.list_resources(
        db_session(), path.tid, type=query.type, limit=query.limit, cursor=query.cursor
    )
    return page_of([out(r) for r in items], next_cursor)


@bp.get(
    "/<type>/<path:resource_id>",
    responses={200: ResourceOut, **PROBLEM_RESPONSES},
    operation_id="getResource",
)
@tenant_scoped(Permission.RESOURCES_READ)
def get_resource_route(path: ResourcePath) -> dict[str, Any]:
    """One registered resource."""
    return out(get_resource(db_session(), path.tid, path.type, path.resource_id))


@bp.put(
    "/<type>/<path:resource_id>",
    responses={200: ResourceOut, 201: ResourceOut, 409: None, **PROBLEM_RESPONSES},
)
@tenant_scoped(Permission.RESOURCES_WRITE)
def put_resource(path: ResourcePath, body: ResourcePut) -> tuple[dict[str, Any], int]:
    """Register a resource (201) or replace it whole (200): its owner and properties."""
    resource, created = service.put_resource(
        db_session(),
        path.tid,
        path.type,
        path.resource_id,
        owner_id=body.owner_id,
        properties=body.properties,
        actor=current_principal(),
    )
    return out(resource), 201 if created else 200


@bp.delete("/<type>/<path:resource_id>", responses={204: None, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.RESOURCES_WRITE)
def delete_resource(path: ResourcePath) -> tuple[str, int]:
    """Forget a registered resource."""
    service.delete_resource(db_session(), path.tid, path.type, path.resource_id, actor=current_principal())
    return "", 204
