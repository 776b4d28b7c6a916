"""`/tenants/{tid}/audit-events`."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag

from app.audit_log import service
from app.audit_log.schemas import AuditEventOut, AuditEventPage, AuditEventQuery
from app.database import db_session
from app.schemas import PROBLEM_RESPONSES, TenantPath, page_of
from policies import Permission, tenant_scoped

bp = APIBlueprint(
    "audit", __name__, url_prefix="/tenants/<uuid:tid>/audit-events", abp_tags=[Tag(name="audit")]
)


def out(event: Any) -> dict[str, Any]:
    return AuditEventOut.model_validate(event).model_dump(mode="json")


@bp.get("", responses={200: AuditEventPage, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.AUDIT_READ)
def list_audit_events(path: TenantPath, query: AuditEventQuery) -> dict[str, Any]:
    """The tenant's audit events, newest first, filtered by `action`, `actor_id` and `since`."""
    items, next_cursor = service.list_events(
        db_session(),
        path.tid,
        action=query.action,
        actor_id=query.actor_id,
        since=query.since,
        limit=query.limit,
        cursor=query.cursor,
    )
    return page_of([out(e) for e in items], next_cursor)
