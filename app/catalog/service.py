"""Application permissions: defined, described and removed by platform operators (the API
and `flask permissions apply`), shared by every tenant.

Every change bumps the revocation epoch in its own transaction: the cached catalog of every
worker is reloaded on the next request, so a removed permission stops counting at once, in
tokens already issued too (the policy layer filters claims through the catalog now).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.audit import AuditAction, record
from app.catalog.store import current_catalog
from app.database import flush_or_conflict, rows_changed, unit_of_work
from app.errors import Conflict
from app.partial import UNCHANGED, Unchanged
from app.security.revocation import invalidate_access_tokens, mark_revocation
from models import ApplicationPermission, Client, Role, RolePermission, UserRole
from policies.catalog import BUILTIN_NAMES, DESCRIPTIONS, BuiltinRole, Permission
from policies.principal import Principal
from policies.problems import FieldError, NotFound, ValidationFailed

# Every holder of the built-in member role, in every tenant.
MEMBERS = (
    select(UserRole.user_id)
    .join(Role, Role.id == UserRole.role_id)
    .where(Role.builtin.is_(True), Role.name == BuiltinRole.MEMBER)
)
BUILTIN_IMMUTABLE = "Built-in permissions are defined in code and cannot be changed or removed."
DUPLICATE = "An application permission with this name already exists."


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    builtin: bool
    platform_only: bool = False
    owner_override: str | None = None
    member: bool = False


def _builtin_entries() -> list[CatalogEntry]:
    return [
        CatalogEntry(
            p.value,
            DESCRIPTIONS[p],
            builtin=True,
            platform_only=p.is_platform,
            owner_override=Permission.PROJECTS_MANAGE.value if p is Permission.PROJECTS_WRITE else None,
            member=False,
        )
        for p in Permission
    ]


def _entry(row: ApplicationPermission) -> CatalogEntry:
    return CatalogEntry(
        row.name, row.description, builtin=False, owner_override=row.owner_override, member=row.member
    )


def list_catalog(session: Session, *, limit: int, after: str | None) -> tuple[list[CatalogEntry], str | None]:
    """Built-in and application permissions by name, a page at a time, from the catalog
    cached behind the revocation epoch (every change bumps it): no query when warm."""
    catalog = current_catalog(session)
    application = [
        CatalogEntry(e.name, e.description, builtin=False, owner_override=e.owner_override, member=e.member)
        for e in catalog.application.values()
    ]
    merged = sorted([*_builtin_entries(), *application], key=lambda e: e.name)
    if after is not None:
        merged = [e for e in merged if e.name > after]
    if len(merged) <= limit:
        return merged, None
    page = merged[:limit]
    return page, page[-1].name


def get_entry(session: Session, name: str) -> CatalogEntry:
    if name in BUILTIN_NAMES:
        return next(e for e in _builtin_entries() if e.name == name)
    row = session.get(ApplicationPermission, name)
    if row is None:
        raise NotFound()
    return _entry(row)


def _check_override(session: Session, name: str, owner_override: str | None) -> None:
    if owner_override is None:
        return
    known = owner_override in BUILTIN_NAMES or session.get(ApplicationPermission, owner_override) is not None
    if owner_override == name or not known or owner_override.startswith("platform:"):
        raise ValidationFailed(
            [FieldError("owner_override", "must name another permission of the catalog, not a platform one")]
        )


def create_permission(
    session: Session,
    actor: Principal | None,
    *,
    name: str,
    description: str = "",
    owner_override: str | None = None,
    member: bool = False,
) -> ApplicationPermission:
    if name in BUILTIN_NAMES:
        raise Conflict(BUILTIN_IMMUTABLE)
    with unit_of_work(session):
        _check_override(session, name, owner_override)
        row = ApplicationPermission(
            name=name, description=description, owner_override=owner_override, member=member
        )
        session.add(row)
        flush_or_conflict(session, DUPLICATE)
        mark_revocation(session)  # the catalog cached by every worker is stale now
        _audit(session, AuditAction.PERMISSION_CREATED, actor, name, _fields(row))
    return row


def update_permission(
    session: Session,
    actor: Principal | None,
    name: str,
    *,
    description: str | Unchanged = UNCHANGED,
    owner_override: str | Unchanged | None = UNCHANGED,
    member: bool | Unchanged = UNCHANGED,
) -> ApplicationPermission:
    """Change what is given (app.partial); `owner_override=None` removes the override."""
    if name in BUILTIN_NAMES:
        raise Conflict(BUILTIN_IMMUTABLE)
    with unit_of_work(session):
        row = session.get(ApplicationPermission, name)
        if row is None:
            raise NotFound()
        wanted: dict[str, object] = {
            "description": description,
            "owner_override": owner_override,
            "member": member,
        }
        changes = {k: v for k, v in wanted.items() if v is not UNCHANGED and getattr(row, k) != v}
        if owner_override is not UNCHANGED and "owner_override" in changes:
            _check_override(session, name, owner_override)
        if not changes:
            return row
        before = _fields(row)
        for key, value in changes.items():
            setattr(row, key, value)
        session.flush()
        mark_revocation(session)
        if changes.get("member") is False:
            # The built-in member role no longer derives it: an edited role, so every member's
            # tokens, and their clients', end now (API.md, Immediate effect; Client).
            invalidate_access_tokens(session, MEMBERS)
        _audit(
            session,
            AuditAction.PERMISSION_UPDATED,
            actor,
            name,
            {k: {"from": before[k], "to": v} for k, v in changes.items()},
        )
    return row


def delete_permission(session: Session, actor: Principal | None, name: str) -> None:
    """Remove it from the catalog, from every role and every client scope, in one transaction;
    tokens carrying it lose it on their next request (the epoch)."""
    if name in BUILTIN_NAMES:
        raise Conflict(BUILTIN_IMMUTABLE)
    with unit_of_work(session):
        row = session.get(ApplicationPermission, name)
        if row is None:
            raise NotFound()
        overriding = session.scalars(
            select(ApplicationPermission.name).where(ApplicationPermission.owner_override == name)
        ).all()
        if overriding:
            raise Conflict(
                f"It is the owner_override of {', '.join(sorted(overriding))}; change those first."
            )
        grants = rows_changed(
            session,
            delete(RolePermission)
            .where(RolePermission.permission == name)
            .execution_options(synchronize_session=False),
        )
        clients = _strip_scope(session, name)
        session.delete(row)
        session.flush()
        mark_revocation(session)
        _audit(
            session,
            AuditAction.PERMISSION_DELETED,
            actor,
            name,
            {"roles": grants, "clients": clients},
        )


def _strip_scope(session: Session, name: str) -> int:
    """Clients' scopes are a JSON list: the few that name it are rewritten (the scan reads
    only ids and scopes)."""
    changed = 0
    for client_id, scopes in session.execute(select(Client.id, Client.scopes)):
        if name in (scopes or []):
            session.execute(
                update(Client)
                .where(Client.id == client_id)
                .values(scopes=[s for s in scopes if s != name])
                .execution_options(synchronize_session=False)
            )
            changed += 1
    return changed


def _fields(row: ApplicationPermission) -> dict[str, Any]:
    return {"description": row.description, "owner_override": row.owner_override, "member": row.member}


def _audit(
    session: Session, action: AuditAction, actor: Principal | None, name: str, details: Mapping[str, Any]
) -> None:
    record(
        session,
        action,
        tenant_id=actor.tenant_id if actor else None,
        actor=actor,
        actor_type="user" if actor else "cli",
        target_type="permission",
        target_id=name[:64],
        details={"name": name, **details},
    )


# --- the declarative file (flask permissions apply) --------------------------------------


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


def apply_definitions(
    session: Session, definitions: Iterable[Mapping[str, Any]], *, prune: bool
) -> ApplyReport:
    """Make the application permissions match `definitions` (validated already): create the
    missing, change the different, and with `prune` remove the others. Idempotent."""
    report = ApplyReport()
    wanted = {d["name"]: d for d in definitions}
    existing = {row.name: row for row in session.scalars(select(ApplicationPermission))}
    new = sorted(set(wanted) - set(existing))
    # Created without overrides first, so that overrides may name each other in any order.
    for name in new:
        d = wanted[name]
        existing[name] = create_permission(
            session, None, name=name, description=d["description"], member=d["member"]
        )
        report.created.append(name)
    for name in sorted(wanted):
        d, row = wanted[name], existing[name]
        fields = {
            "description": d["description"],
            "owner_override": d["owner_override"],
            "member": d["member"],
        }
        if any(getattr(row, k) != v for k, v in fields.items()):
            update_permission(session, None, name, **fields)
            if name not in new:
                report.updated.append(name)
    if prune:
        doomed = set(existing) - set(wanted)
        # delete_permission refuses one that is another's owner_override: those naming it go
        # first, and overrides that name each other in a cycle are cleared first.
        for name in sorted(doomed):
            if existing[name].owner_override in doomed and _in_cycle(existing, name):
                update_permission(session, None, name, owner_override=None)
        for name in _overriders_first(existing, doomed):
            delete_permission(session, None, name)
            report.deleted.append(name)
    return report


def _in_cycle(rows: Mapping[str, ApplicationPermission], name: str) -> bool:
    seen: set[str] = set()
    current = rows[name].owner_override
    while current is not None and current in rows and current not in seen:
        if current == name:
            return True
        seen.add(current)
        current = rows[current].owner_override
    return False


def _overriders_first(rows: Mapping[str, ApplicationPermission], doomed: set[str]) -> list[str]:
    """`doomed` in an order that removes a permission only after every one naming it as its
    owner_override; by name among the ready ones."""
    order: list[str] = []
    left = set(doomed)
    while left:
        named = {rows[n].owner_override for n in left}
        ready = sorted(n for n in left if n not in named) or sorted(left)
        order.extend(ready)
        left -= set(ready)
    return order
