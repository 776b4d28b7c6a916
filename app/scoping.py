"""The one door for loading tenant objects by ID: always with the tenant filter.

A missing object and another tenant's object are the same 404 (API.md, OWASP API1:2023).
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.database import db_session
from models import Resource, Tenant
from policies.problems import NotFound

T = TypeVar("T")


def get_in_tenant(session: Session, model: type[T], tenant_id: uuid.UUID, object_id: uuid.UUID) -> T:
    column: Any = model
    found = session.scalars(
        select(model).where(column.tenant_id == tenant_id, column.id == object_id)
    ).one_or_none()
    if found is None:
        raise NotFound()
    return found


def get_resource(session: Session, tenant_id: uuid.UUID, type: str, external_id: str) -> Resource:
    """A registered resource by the platform's own type and id, within the tenant."""
    found = session.scalars(
        select(Resource).where(
            Resource.tenant_id == tenant_id, Resource.type == type, Resource.external_id == external_id
        )
    ).one_or_none()
    if found is None:
        raise NotFound()
    return found


def get_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant:
    """The path's tenant, itself the scope: the policy layer has already matched it against the
    caller's tenant (or a platform permission); a platform path may name a missing one."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound()
    return tenant


def tenant_exists(tenant_id: uuid.UUID) -> bool:
    """For the policy layer: a platform operator's path may name a tenant that does not exist."""
    return db_session().get(Tenant, tenant_id) is not None
