"""Resources the platform registers for decisions and searches (API.md, Resource)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import AuditAction, record
from app.database import flush_or_conflict, unit_of_work
from app.errors import FieldError, ValidationFailed
from app.pagination import paginate
from app.scoping import get_in_tenant, get_resource, get_tenant
from models import Resource, User, utcnow
from policies.principal import Principal
from policies.problems import NotFound


def list_resources(
    session: Session, tenant_id: uuid.UUID, *, type: str | None, limit: int, cursor: str | None
) -> tuple[list[Resource], str | None]:
    stmt = select(Resource).where(Resource.tenant_id == tenant_id)
    if type is not None:
        stmt = stmt.where(Resource.type == type)
    return paginate(session, stmt, Resource, limit, cursor)


def put_resource(
    session: Session,
    tenant_id: uuid.UUID,
    type: str,
    external_id: str,
    *,
    owner_id: uuid.UUID | None,
    properties: dict[str, Any],
    actor: Principal,
) -> tuple[Resource, bool]:
    """Create (True) or replace whole (False)."""
    with unit_of_work(session):
        get_tenant(session, tenant_id)
        if owner_id is not None:
            try:
                get_in_tenant(session, User, tenant_id, owner_id)
            except NotFound:
                raise ValidationFailed([FieldError("owner_id", "no such user in this tenant")]) from None
        try:
            resource = get_resource(session, tenant_id, type, external_id)
            created = False
        except NotFound:
            # created_at and updated_at: one instant, at the INSERT (models.resource.one_instant).
            resource, created = _register(session, tenant_id, type, external_id)
        if not created:
            # Never back in time (so never before created_at), even from an instance whose clock
            # is behind the last writer's.
            resource.updated_at = max(utcnow(), resource.updated_at)
        resource.owner_id = owner_id
        resource.properties = properties
        flush_or_conflict(session, "The resource was registered concurrently; try again.")
        record(
            session,
            AuditAction.RESOURCE_CREATED if created else AuditAction.RESOURCE_REPLACED,
            actor,
            target=resource,
            details={"type": type, "id": external_id, "owner_id": str(owner_id) if owner_id else None},
        )
    return resource, created


def _register(session: Session, tenant_id: uuid.UUID, type: str, external_id: str) -> tuple[Resource, bool]:
    """A new resource (True), or the one a concurrent PUT registered meanwhile (False): a PUT
    is idempotent, so losing the insert race replaces what the winner wrote, no 409."""
    resource = Resource(tenant_id=tenant_id, type=type, external_id=external_id, properties={})
    try:
        with session.begin_nested():  # a failed INSERT must not end the whole transaction
            session.add(resource)
    except IntegrityError:
        return get_resource(session, tenant_id, type, external_id), False
    return resource, True


def delete_resource(
    session: Session, tenant_id: uuid.UUID, type: str, external_id: str, *, actor: Principal
) -> None:
    with unit_of_work(session):
        resource = get_resource(session, tenant_id, type, external_id)
        session.delete(resource)
        record(
            session,
            AuditAction.RESOURCE_DELETED,
            actor,
            target=resource,
            details={"type": type, "id": external_id},
        )
