"""Deciding AuthZEN evaluations against our model, in a constant number of queries.

A decision asks whether the subject holds `<resource.type>:<action.name>` now (its roles
and a client's scopes as the database says, through policies.derivation), and, when that
permission has an owner override the subject lacks, whether the subject owns the resource.

Cost: the subjects of a whole batch are loaded in one query (users) and one (clients), the
owners it needs in one (registered resources) and one (projects); a single evaluation
costs at most two. Subjects' derived sets are cached per worker while the revocation epoch
is unchanged: every change that alters what a subject holds (roles, scopes, activity, the
catalog, suspension) bumps the epoch.
"""

from __future__ import annotations

import enum
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session

from app.catalog.effective import access_from_rows, client_permissions, owners_permissions
from app.catalog.store import current_catalog
from app.decisions.requests import Evaluation, Malformed, storable
from app.security.token_state import token_state_checker
from app.services import services
from models import (
    PLATFORM_TENANT_SLUG,
    Client,
    Project,
    Resource,
    Role,
    RolePermission,
    Tenant,
    TenantStatus,
    User,
    UserRole,
    username_key,
)
from policies.derivation import Catalog

USER = "user"
CLIENT = "client"
PROJECTS = "projects"  # projects are resources whose owner the service knows


class Reason(enum.StrEnum):
    MISSING_PERMISSION = "missing_permission"
    NOT_OWNER = "not_owner"
    UNKNOWN_SUBJECT = "unknown_subject"
    SUBJECT_INACTIVE = "subject_inactive"
    TENANT_SUSPENDED = "tenant_suspended"
    UNKNOWN_PERMISSION = "unknown_permission"
    INVALID_REQUEST = "invalid_request"


REASON_TEXT = {
    Reason.MISSING_PERMISSION: "The subject does not hold the permission.",
    Reason.NOT_OWNER: "Only the owner, or a holder of the override permission, may do this.",
    Reason.UNKNOWN_SUBJECT: "No such subject in this tenant.",
    Reason.SUBJECT_INACTIVE: "The subject is deactivated or revoked.",
    Reason.TENANT_SUSPENDED: "The tenant is suspended.",
    Reason.UNKNOWN_PERMISSION: "The permission is not in the catalog.",
    Reason.INVALID_REQUEST: "The evaluation is malformed.",
}


@dataclass(frozen=True)
class Decision:
    decision: bool
    reason: Reason | None = None
    missing: tuple[str, ...] = ()
    detail: str | None = None

    def as_json(self) -> dict[str, Any]:
        if self.decision:
            return {"decision": True}
        assert self.reason is not None
        context: dict[str, Any] = {
            "id": "0",
            "reason_admin": {"en": self.detail or REASON_TEXT[self.reason]},
            "reason_code": self.reason.value,
        }
        if self.missing:
            context["missing_permissions"] = list(self.missing)
        return {"decision": False, "context": context}


def invalid(exc: Malformed) -> Decision:
    return Decision(False, Reason.INVALID_REQUEST, detail=f"The evaluation is malformed: {exc}.")


@dataclass(frozen=True)
class SubjectState:
    """What the database says about a subject now."""

    found: bool
    active: bool = False
    permissions: frozenset[str] = frozenset()
    user_id: uuid.UUID | None = None
    username_key: str | None = None
    tenant_active: bool = True


UNKNOWN = SubjectState(False)
SubjectKey = tuple[uuid.UUID, str, str]  # (tenant, type, id as given)


# --------------------------------------------------------------------------- subjects


class SubjectCache:
    """Derived subject states, trusted only under the epoch they were loaded with."""

    MAX_ENTRIES = 50_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._epoch: int | None = None
        self._states: dict[SubjectKey, SubjectState] = {}

    def get_many(self, epoch: int, keys: Iterable[SubjectKey]) -> dict[SubjectKey, SubjectState]:
        with self._lock:
            if self._epoch != epoch:
                self._epoch, self._states = epoch, {}
            return {k: self._states[k] for k in keys if k in self._states}

    def put_many(self, epoch: int, states: Mapping[SubjectKey, SubjectState]) -> None:
        with self._lock:
            if self._epoch != epoch or len(self._states) + len(states) > self.MAX_ENTRIES:
                self._epoch, self._states = epoch, {}
            self._states.update(states)

    def clear(self) -> None:
        with self._lock:
            self._epoch, self._states = None, {}


def subject_cache() -> SubjectCache:
    return services().subject_cache


def load_subjects(
    session: Session, catalog: Catalog, keys: set[SubjectKey]
) -> dict[SubjectKey, SubjectState]:
    """Subjects by (tenant, type, id): users in one query, clients in one, both only for
    what the epoch-keyed cache does not hold."""
    epoch = token_state_checker().current_epoch()
    cache = subject_cache()
    states = cache.get_many(epoch, keys)
    missing = keys - set(states)
    loaded: dict[SubjectKey, SubjectState] = dict.fromkeys(missing, UNKNOWN)
    # A name no database can hold is nobody: unknown, without asking.
    users = [k for k in missing if k[1] == USER and storable(k[2])]
    clients = [k for k in missing if k[1] == CLIENT and storable(k[2])]
    if users:
        loaded.update(_load_users(session, catalog, users))
    if clients:
        loaded.update(_load_clients(session, catalog, clients))
    # Only found subjects are cached: creating a user or client does not bump the epoch.
    cache.put_many(epoch, {k: v for k, v in loaded.items() if v.found})
    states.update(loaded)
    return states


def _load_users(
    session: Session, catalog: Catalog, keys: Sequence[SubjectKey]
) -> dict[SubjectKey, SubjectState]:
    """One query: the users with their tenant, roles and grants."""
    tenants = {k[0] for k in keys}
    ids = {_as_uuid(k[2]) for k in keys} - {None}
    names = {username_key(k[2]) for k in keys}
    rows = session.execute(
        select(
            User.id,
            User.tenant_id,
            User.username_key,
            User.is_active,
            Tenant.slug,
            Tenant.status,
            Role.name,
            Role.builtin,
            RolePermission.permission,
        )
        .join(Tenant, Tenant.id == User.tenant_id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .outerjoin(Role, Role.id == UserRole.role_id)
        # A grant carrying a condition counts for nothing until conditions are evaluated (ROADMAP).
        .outerjoin(
            RolePermission, and_(RolePermission.role_id == Role.id, RolePermission.condition.is_(None))
        )
        .where(User.tenant_id.in_(tenants), or_(User.id.in_(ids), User.username_key.in_(names)))
    ).all()
    by_user: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        by_user.setdefault(row.id, []).append(row)
    by_id: dict[tuple[uuid.UUID, uuid.UUID], SubjectState] = {}
    by_name: dict[tuple[uuid.UUID, str], SubjectState] = {}
    for user_rows in by_user.values():
        first = user_rows[0]
        roles = [(r.name, r.builtin, r.permission) for r in user_rows if r.name is not None]
        access = access_from_rows(catalog, roles, in_platform_tenant=first.slug == PLATFORM_TENANT_SLUG)
        state = SubjectState(
            True,
            first.is_active,
            access.permissions,
            first.id,
            first.username_key,
            tenant_active=first.status == TenantStatus.ACTIVE,
        )
        by_id[(first.tenant_id, first.id)] = state
        by_name[(first.tenant_id, first.username_key)] = state
    # An id names its user; a username only when no user has that id (a username may look like
    # another user's id).
    states: dict[SubjectKey, SubjectState] = {}
    for key in keys:
        subject_id = _as_uuid(key[2])
        named = by_id.get((key[0], subject_id)) if subject_id is not None else None
        if named is None:
            named = by_name.get((key[0], username_key(key[2])))
        if named is not None:
            states[key] = named
    return states


def _load_clients(
    session: Session, catalog: Catalog, keys: Sequence[SubjectKey]
) -> dict[SubjectKey, SubjectState]:
    """Two queries: the clients with their tenant, then all their owners at once."""
    rows = session.execute(
        select(Client, Tenant.slug, Tenant.status)
        .join(Tenant, Tenant.id == Client.tenant_id)
        .where(Client.tenant_id.in_({k[0] for k in keys}), Client.client_id.in_({k[2] for k in keys}))
    ).all()
    bounds = owner_bounds(session, catalog, [client for client, _, _ in rows])
    states: dict[SubjectKey, SubjectState] = {}
    for client, slug, status in rows:
        permissions = client_permissions(
            catalog, client, in_platform_tenant=slug == PLATFORM_TENANT_SLUG, owner_bound=bounds[client.id]
        )
        states[(client.tenant_id, CLIENT, client.client_id)] = SubjectState(
            True, client.revoked_at is None, permissions, tenant_active=status == TenantStatus.ACTIVE
        )
    return states


def owner_bounds(
    session: Session, catalog: Catalog, clients: Sequence[Client]
) -> dict[uuid.UUID, frozenset[str]]:
    """Each client's owner's effective set now, in one query whatever the number of clients: a
    client never holds more than its owner (API.md, Client); a gone or inactive owner, nothing."""
    if not clients:
        return {}
    # As the token endpoint derives it: the owner's roles in their own tenant, which need not
    # be the client's (a platform operator makes clients for the tenants).
    held = owners_permissions(session, {c.created_by for c in clients if c.created_by is not None}, catalog)
    return {c.id: (held.get(c.created_by) if c.created_by else None) or frozenset() for c in clients}


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------- owners

OwnerKey = tuple[uuid.UUID, str, str]  # (tenant, resource type, resource id)


def load_owners(session: Session, keys: set[OwnerKey]) -> dict[OwnerKey, uuid.UUID | None]:
    """Registered owners: one query for registered resources, one for projects."""
    owners: dict[OwnerKey, uuid.UUID | None] = {}
    registered = [k for k in keys if k[1] != PROJECTS and storable(k[1]) and storable(k[2])]
    if registered:
        rows = session.execute(
            select(Resource.tenant_id, Resource.type, Resource.external_id, Resource.owner_id).where(
                tuple_(Resource.tenant_id, Resource.type, Resource.external_id).in_(registered)
            )
        )
        owners.update({(t, ty, i): o for t, ty, i, o in rows})
    projects = {(k[0], _as_uuid(k[2])): k for k in keys if k[1] == PROJECTS and _as_uuid(k[2])}
    if projects:
        project_rows = session.execute(
            select(Project.tenant_id, Project.id, Project.owner_id).where(
                Project.id.in_({p for _, p in projects}), Project.tenant_id.in_({t for t, _ in projects})
            )
        )
        for tenant_id, project_id, owner_id in project_rows:
            key = projects.get((tenant_id, project_id))
            if key is not None:
                owners[key] = owner_id
    return owners


# --------------------------------------------------------------------------- deciding


@dataclass
class Scope:
    """Whom the caller may ask about: its own tenant, or (platform:read) any named one."""

    own_tenant: uuid.UUID
    may_name_tenants: bool


@dataclass(frozen=True)
class Prepared:
    evaluation: Evaluation
    tenant_id: uuid.UUID | None  # None: a tenant the caller may not see, or none at all
    permission: str


@dataclass
class World:
    """Everything a set of evaluations needs, loaded in a constant number of queries."""

    catalog: Catalog
    subjects: dict[SubjectKey, SubjectState] = field(default_factory=dict)
    owners: dict[OwnerKey, uuid.UUID | None] = field(default_factory=dict)


def tenant_of(scope: Scope, properties: Mapping[str, Any]) -> uuid.UUID | None:
    named = properties.get("tenant_id")
    if named is None:
        return scope.own_tenant
    parsed = _as_uuid(named) if isinstance(named, str) else None
    if parsed is None:
        return None
    if parsed == scope.own_tenant or scope.may_name_tenants:
        return parsed
    return None  # another tenant is simply unknown to this caller


def prepare(scope: Scope, evaluation: Evaluation) -> Prepared:
    return Prepared(
        evaluation,
        tenant_of(scope, evaluation.subject.properties),
        f"{evaluation.resource.type}:{evaluation.action.name}",
    )


def load_world(session: Session, scope: Scope, items: Sequence[Prepared]) -> World:
    catalog = current_catalog(session)
    world = World(catalog)
    keys = {k for k in map(subject_key, items) if k is not None and k[1] in (USER, CLIENT)}
    world.subjects = load_subjects(session, catalog, keys)
    owner_keys: set[OwnerKey] = set()
    for p in items:
        key = subject_key(p)
        state = world.subjects.get(key) if key is not None else None
        resource = p.evaluation.resource
        # An evaluation's resource always has an id (only a resource search leaves it out).
        if key is None or state is None or resource.id is None:
            continue
        if needs_ownership(catalog, state, p.permission):
            owner_keys.add((key[0], resource.type, resource.id))
    if owner_keys:
        world.owners = load_owners(session, owner_keys)
    return world


def subject_key(p: Prepared) -> SubjectKey | None:
    if p.tenant_id is None or p.evaluation.subject.id is None:
        return None
    return (p.tenant_id, p.evaluation.subject.type, p.evaluation.subject.id)


def needs_ownership(catalog: Catalog, state: SubjectState, permission: str) -> bool:
    override = catalog.owner_override(permission)
    return permission in state.permissions and override is not None and override not in state.permissions


def standing(world: World, p: Prepared) -> tuple[Decision, SubjectState]:
    """The decision before the ownership rule: a denial, or a permit that may still need the
    subject to own the resource (`needs_ownership`)."""
    key = subject_key(p)
    state = world.subjects.get(key, UNKNOWN) if key is not None else UNKNOWN
    if not state.found:
        # Also a subject of a tenant the caller may not see: its existence is never told.
        return Decision(False, Reason.UNKNOWN_SUBJECT), state
    if not state.tenant_active:
        return Decision(False, Reason.TENANT_SUSPENDED), state
    if not state.active:
        return Decision(False, Reason.SUBJECT_INACTIVE), state
    if not world.catalog.knows(p.permission):
        return Decision(False, Reason.UNKNOWN_PERMISSION), state
    if p.permission not in state.permissions:
        return Decision(False, Reason.MISSING_PERMISSION, (p.permission,)), state
    return Decision(True), state


def decide(world: World, p: Prepared) -> Decision:
    verdict, state = standing(world, p)
    if (
        verdict.decision
        and needs_ownership(world.catalog, state, p.permission)
        and not _owns(world, p, state)
    ):
        override = world.catalog.owner_override(p.permission)
        return Decision(False, Reason.NOT_OWNER, (str(override),))
    return verdict


def _owns(world: World, p: Prepared, state: SubjectState) -> bool:
    if state.user_id is None:
        return False  # clients own nothing
    resource = p.evaluation.resource
    key = (p.tenant_id, resource.type, resource.id)
    if key in world.owners:
        return world.owners[key] == state.user_id
    if resource.type == PROJECTS:
        return False  # the service knows every project: an unknown one has no owner
    claimed = resource.properties.get("owner_id")  # an unregistered resource: as the caller says
    if not isinstance(claimed, str):
        return False
    return _as_uuid(claimed) == state.user_id or username_key(claimed) == state.username_key


def evaluate_all(
    session: Session, scope: Scope, items: Sequence[Evaluation | Malformed], semantic: str
) -> list[Decision]:
    """Decide every item in order; the short-circuit semantics stop at the first deny/permit."""
    prepared = [prepare(scope, i) if isinstance(i, Evaluation) else i for i in items]
    world = load_world(session, scope, [p for p in prepared if isinstance(p, Prepared)])
    decisions: list[Decision] = []
    for p in prepared:
        decision = decide(world, p) if isinstance(p, Prepared) else invalid(p)
        decisions.append(decision)
        if semantic == "deny_on_first_deny" and not decision.decision:
            break
        if semantic == "permit_on_first_permit" and decision.decision:
            break
    return decisions
