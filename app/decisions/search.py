"""AuthZEN subject, resource and action search: who may, on what, which actions.

Each page is one query (the subject's state comes from the epoch-keyed cache of
app.decisions.engine, loaded once). Unknown types or ids give empty results, never errors.
"""

from __future__ import annotations

import hmac
import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from app.catalog.effective import client_permissions
from app.catalog.store import current_catalog
from app.cursors import InvalidCursor, sign, unsign
from app.decisions.engine import (
    CLIENT,
    PROJECTS,
    USER,
    Prepared,
    Scope,
    World,
    decide,
    load_subjects,
    load_world,
    needs_ownership,
    owner_bounds,
    standing,
    subject_key,
    tenant_of,
)
from app.decisions.requests import Action, Evaluation, Page, Resource, Subject, storable
from models import (
    PLATFORM_TENANT_SLUG,
    Client,
    Project,
    Role,
    RolePermission,
    Tenant,
    TenantStatus,
    User,
    UserRole,
    username_key,
)
from models import Resource as RegisteredResource
from policies.catalog import PLATFORM_PERMISSIONS
from policies.derivation import BUILTIN_ROLE_NAMES, Catalog, effective_permissions

_PLATFORM = frozenset(str(p) for p in PLATFORM_PERMISSIONS)
Results = tuple[list[dict[str, Any]], str]


def encode_token(value: str, page: Page) -> str:
    """A page token: signed like every cursor of the API (app.cursors), bound to this search
    (its path, and what it asks: `page.query`)."""
    return sign([value, page.query])


def decode_token(page: Page) -> str | None:
    """The position a page token names; one we did not issue, or issued for another search,
    is a 400 (AuthZEN: a malformed request; a PDP SHOULD refuse a changed search), never a
    silently empty page."""
    if not page.token:
        return None
    value, query = unsign(page.token, 2)
    if not hmac.compare_digest(query, page.query):
        raise InvalidCursor()
    return value


# ------------------------------------------------------------------------ subject search


def _holders(catalog: Catalog, tenant_id: uuid.UUID, permission: str) -> ColumnElement[bool]:
    """Users of the tenant holding `permission` now, as SQL: through a built-in role whose
    derived set has it, or a custom role granting it (without a condition)."""
    builtin = [
        r
        for r in sorted(BUILTIN_ROLE_NAMES)
        if permission in effective_permissions(catalog, builtin_roles=[r], in_platform_tenant=True)
    ]
    via_builtin = (
        select(UserRole.user_id)
        .join(Role, Role.id == UserRole.role_id)
        .where(Role.tenant_id == tenant_id, Role.builtin.is_(True), Role.name.in_(builtin))
    )
    via_grant = (
        select(UserRole.user_id)
        .join(Role, Role.id == UserRole.role_id)
        .join(RolePermission, RolePermission.role_id == Role.id)
        .where(
            Role.tenant_id == tenant_id,
            Role.builtin.is_(False),
            RolePermission.permission == permission,
            RolePermission.condition.is_(None),
        )
    )
    held = or_(User.id.in_(via_builtin), User.id.in_(via_grant))
    if permission in _PLATFORM:  # never in effect outside the platform tenant
        held = and_(held, exists().where(Tenant.id == tenant_id, Tenant.slug == PLATFORM_TENANT_SLUG))
    return held


def _owner_is_user(tenant_id: uuid.UUID, resource: Resource) -> ColumnElement[bool]:
    """The user owns the resource: its registered owner, a project's owner, or (unregistered)
    `resource.properties.owner_id` as the caller sends it."""
    if resource.type == PROJECTS:
        project_id = _as_uuid(resource.id)
        if project_id is None:
            return false()
        owners = select(Project.owner_id).where(Project.tenant_id == tenant_id, Project.id == project_id)
        return User.id.in_(owners)
    # A name no database can hold is registered nowhere and owned by nobody (never a 500).
    named = resource.id is not None and storable(resource.type) and storable(resource.id)
    registered = select(RegisteredResource.owner_id).where(
        and_(
            RegisteredResource.tenant_id == tenant_id,
            RegisteredResource.type == resource.type,
            RegisteredResource.external_id == resource.id,
        )
        if named
        else false()
    )
    claimed = resource.properties.get("owner_id")
    if not isinstance(claimed, str) or not storable(claimed):
        return User.id.in_(registered)
    claimed_id = _as_uuid(claimed)
    by_claim = (
        or_(User.id == claimed_id, User.username_key == username_key(claimed))
        if claimed_id
        else (User.username_key == username_key(claimed))
    )
    return or_(User.id.in_(registered), and_(~registered.exists(), by_claim))


def search_subjects(
    session: Session, scope: Scope, subject: Subject, action: Action, resource: Resource, page: Page
) -> Results:
    tenant_id = tenant_of(scope, subject.properties)
    catalog = current_catalog(session)
    permission = f"{resource.type}:{action.name}"
    if tenant_id is None or not catalog.knows(permission) or subject.type not in (USER, CLIENT):
        return [], ""
    after = decode_token(page)
    if after == "":
        return [], ""
    if subject.type == CLIENT:
        return _search_clients(session, catalog, tenant_id, permission, page, after)
    condition = _holders(catalog, tenant_id, permission)
    override = catalog.owner_override(permission)
    if override is not None:
        condition = and_(
            condition, or_(_holders(catalog, tenant_id, override), _owner_is_user(tenant_id, resource))
        )
    stmt = (
        select(User.username, User.username_key, User.id)
        .where(
            User.tenant_id == tenant_id,
            User.is_active.is_(True),
            exists().where(Tenant.id == tenant_id, Tenant.status == TenantStatus.ACTIVE),
            condition,
        )
        .order_by(User.username_key)
        .limit(page.limit + 1)
    )
    if after is not None:
        stmt = stmt.where(User.username_key > after)
    rows = session.execute(stmt).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    results = [{"type": USER, "id": r.username, "properties": {"user_id": str(r.id)}} for r in rows]
    return results, encode_token(rows[-1].username_key, page) if more else ""


def _search_clients(
    session: Session, catalog: Catalog, tenant_id: uuid.UUID, permission: str, page: Page, after: str | None
) -> Results:
    """Clients are filtered on their scopes (a JSON list) after one query per page: a page may
        hold fewer than `limit` results and still be followed by another. Their owners' bounds
    take one more query per page."""
    stmt = (
        select(Client, Tenant.slug)
        .join(Tenant, Tenant.id == Client.tenant_id)
        .where(
            Client.tenant_id == tenant_id, Client.revoked_at.is_(None), Tenant.status == TenantStatus.ACTIVE
        )
        .order_by(Client.client_id)
        .limit(page.limit + 1)
    )
    if after is not None:
        stmt = stmt.where(Client.client_id > after)
    rows = session.execute(stmt).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    override = catalog.owner_override(permission)
    bounds = owner_bounds(session, catalog, [client for client, _ in rows])
    results = []
    for client, slug in rows:
        held = client_permissions(
            catalog, client, in_platform_tenant=slug == PLATFORM_TENANT_SLUG, owner_bound=bounds[client.id]
        )
        # Clients own nothing: an ownership rule admits them only through the override.
        if permission in held and (override is None or override in held):
            results.append({"type": CLIENT, "id": client.client_id})
    return results, encode_token(rows[-1][0].client_id, page) if more else ""


# ----------------------------------------------------------------------- resource search


def search_resources(
    session: Session, scope: Scope, subject: Subject, action: Action, resource: Resource, page: Page
) -> Results:
    """Registered resources of the type (and projects) the subject may act on: all of them when
    it holds the permission outright, those it owns when an ownership rule applies."""
    catalog = current_catalog(session)
    permission = f"{resource.type}:{action.name}"
    probe = Prepared(Evaluation(subject, action, resource), tenant_of(scope, subject.properties), permission)
    key = subject_key(probe)
    world = World(catalog, load_subjects(session, catalog, {key} if key else set()))
    verdict, state = standing(world, probe)
    after = decode_token(page)
    if not verdict.decision or probe.tenant_id is None or after == "":
        return [], ""
    only_owned = needs_ownership(catalog, state, permission)
    if resource.type == PROJECTS:
        ids = _page_of_projects(session, probe.tenant_id, state.user_id if only_owned else None, page, after)
    else:
        stmt = (
            select(RegisteredResource.external_id)
            .where(RegisteredResource.tenant_id == probe.tenant_id, RegisteredResource.type == resource.type)
            .order_by(RegisteredResource.external_id)
            .limit(page.limit + 1)
        )
        if only_owned:
            stmt = stmt.where(RegisteredResource.owner_id == state.user_id)
        if after is not None:
            stmt = stmt.where(RegisteredResource.external_id > after)
        ids = list(session.scalars(stmt))
    more = len(ids) > page.limit
    ids = ids[: page.limit]
    return [{"type": resource.type, "id": i} for i in ids], encode_token(ids[-1], page) if more else ""


def _page_of_projects(
    session: Session, tenant_id: uuid.UUID, owner: uuid.UUID | None, page: Page, after: str | None
) -> list[str]:
    stmt = select(Project.id).where(Project.tenant_id == tenant_id).order_by(Project.id).limit(page.limit + 1)
    if owner is not None:
        stmt = stmt.where(Project.owner_id == owner)
    if after is not None:
        after_id = _as_uuid(after)
        if after_id is None:
            return []
        stmt = stmt.where(Project.id > after_id)
    return [str(i) for i in session.scalars(stmt)]


# ------------------------------------------------------------------------- action search


def search_actions(
    session: Session, scope: Scope, subject: Subject, resource: Resource, page: Page
) -> Results:
    """Every action `a` with `<resource.type>:a` in the catalog that the subject may do now."""
    catalog = current_catalog(session)
    prefix = f"{resource.type}:"
    names = sorted(n.removeprefix(prefix) for n in catalog.names if n.startswith(prefix))
    after = decode_token(page)
    if after == "":
        return [], ""
    if after is not None:
        names = [n for n in names if n > after]
    tenant_id = tenant_of(scope, subject.properties)
    prepared = [Prepared(Evaluation(subject, Action(n), resource), tenant_id, prefix + n) for n in names]
    world = load_world(session, scope, prepared)
    allowed = [p.evaluation.action.name for p in prepared if decide(world, p).decision]
    more = len(allowed) > page.limit
    allowed = allowed[: page.limit]
    return [{"name": n} for n in allowed], encode_token(allowed[-1], page) if more else ""


def _as_uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
