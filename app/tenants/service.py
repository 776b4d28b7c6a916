"""Tenants: created with their built-in roles, renamed by their admins, suspended and
reactivated only by platform operators."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import provisioning
from app.audit import AuditAction, record
from app.database import unit_of_work
from app.errors import Conflict, FieldError, ValidationFailed
from app.pagination import paginate
from app.partial import UNCHANGED, Unchanged
from app.security.revocation import mark_revocation
from models import PLATFORM_TENANT_SLUG, Client, LoginSession, Tenant, TenantStatus, utcnow
from policies import NotFound, Principal

DUPLICATE_SLUG = "A tenant with this slug already exists."
PLATFORM_NOT_SUSPENDABLE = "The platform tenant cannot be suspended."


def list_tenants(
    session: Session, *, status: TenantStatus | None, limit: int, cursor: str | None
) -> tuple[list[Tenant], str | None]:
    stmt = select(Tenant)
    if status is not None:
        stmt = stmt.where(Tenant.status == status)
    return paginate(session, stmt, Tenant, limit, cursor)


def create_tenant(session: Session, slug: str, name: str, actor: Principal) -> Tenant:
    """A new tenant with its built-in roles; a taken slug is a 409, even in a race."""
    if slug == PLATFORM_TENANT_SLUG:
        # The platform tenant's built-in roles carry platform permissions: never a second one.
        raise ValidationFailed([FieldError("slug", "is reserved")])
    with unit_of_work(session):
        try:
            tenant = provisioning.create_tenant(session, slug, name)
        except IntegrityError:
            raise Conflict(DUPLICATE_SLUG) from None
        record(
            session, AuditAction.TENANT_CREATED, actor, target=tenant, details={"slug": slug, "name": name}
        )
    return tenant


def update_tenant(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    actor: Principal,
    name: str | Unchanged = UNCHANGED,
    status: TenantStatus | Unchanged = UNCHANGED,
) -> Tenant:
    """Rename; suspend or reactivate (the route's policy requires platform:write for `status`).
    Fields left out are UNCHANGED (app.partial)."""
    with unit_of_work(session):
        tenant = _lock_tenant(session, tenant_id)
        if status == TenantStatus.SUSPENDED and tenant.is_platform:
            raise Conflict(PLATFORM_NOT_SUSPENDABLE)
        if name is not UNCHANGED and name != tenant.name:
            old_name, tenant.name = tenant.name, name
            _record_change(
                session, tenant, actor, AuditAction.TENANT_UPDATED, {"name": {"from": old_name, "to": name}}
            )
        if status is not UNCHANGED and status != tenant.status:
            if status == TenantStatus.SUSPENDED:
                _end_tokens(session, tenant)
            old_status, tenant.status = tenant.status, status
            action = (
                AuditAction.TENANT_SUSPENDED
                if status == TenantStatus.SUSPENDED
                else AuditAction.TENANT_REACTIVATED
            )
            _record_change(
                session, tenant, actor, action, {"status": {"from": old_status, "to": status.value}}
            )
    return tenant


def _end_tokens(session: Session, tenant: Tenant) -> None:
    """Suspension is revocation (API.md, Tokens): every login session of the tenant ends and
    every client token fails, so that reactivating the tenant later revives none of them.
    The clients themselves stay; after reactivation they ask for new tokens."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.tenant_id == tenant.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="tenant_suspended")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Client)
        .where(Client.tenant_id == tenant.id, Client.revoked_at.is_(None))
        .values(authz_version=Client.authz_version + 1)
        .execution_options(synchronize_session=False)
    )
    mark_revocation(session)


def _lock_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant:
    """The tenant, locked until commit (PostgreSQL's row lock; on SQLite the unit of work
    already holds the write lock), so concurrent changes serialise and audit true `from` values."""
    locked = (
        select(Tenant)
        .where(Tenant.id == tenant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    tenant = session.scalars(locked).one_or_none()
    if tenant is None:
        raise NotFound()
    return tenant


def _record_change(
    session: Session, tenant: Tenant, actor: Principal, action: AuditAction, details: dict[str, object]
) -> None:
    record(session, action, actor, target=tenant, details=details)
