"""Users of a tenant: creation, changes, roles, with the rules that keep a tenant safe.

- Nobody grants a role carrying a permission they do not hold, nor takes over (new
  password, deactivation, deletion, roles) a user holding one (OWASP API5, ASVS V4.1.3).
- Nobody changes their own roles.
- A tenant always keeps an active administrator.
- Every change ends the affected user's tokens at once where it changes what they may do.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.audit import AuditAction, record
from app.catalog.effective import ensure_grantable_now, held_now, role_permissions, user_access
from app.catalog.store import current_catalog
from app.database import flush_or_conflict, unit_of_work
from app.errors import Conflict, FieldError, ValidationFailed
from app.pagination import paginate
from app.partial import UNCHANGED, Unchanged
from app.provisioning import roles_by_name
from app.scoping import get_in_tenant, get_tenant
from app.security.password_policy import name_words, password_problem
from app.security.passwords import Passwords, password_length_problem
from app.security.revocation import invalidate_access_tokens, revoke_sessions
from models import Role, Tenant, User, UserRole, username_key, username_skeleton
from policies.catalog import BuiltinRole
from policies.principal import Principal, PrincipalKind
from policies.problems import PermissionDenied, Problem

DUPLICATE_USERNAME = "A user with this username, or one that looks the same, already exists in the tenant."
ROLES_CHANGED_CONCURRENTLY = "The tenant's roles changed while the user was being saved; try again."


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class UserListed:
    """A user as a list shows it: read as columns (no ORM object, never the password hash)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    username: str
    email: str | None
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    role_names: list[str]


LISTED_COLUMNS = (
    User.id,
    User.tenant_id,
    User.username,
    User.email,
    User.is_active,
    User.created_at,
    User.last_login_at,
)


def list_users(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    q: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> tuple[list[UserListed], str | None]:
    """One page of the tenant's users, oldest first, each with its role names.

    Two queries whatever the page holds: the page's columns, then the role names of all its
    users (never one query per user, and no ORM objects: a page is read, not changed).
    """
    stmt = select(*LISTED_COLUMNS).where(User.tenant_id == tenant_id)
    if q is not None:
        stmt = stmt.where(
            or_(
                # The key is case-folded NFKC, so the search folds the same way as uniqueness.
                User.username_key.contains(username_key(q), autoescape=True),
                func.lower(User.email).contains(q.lower(), autoescape=True),
            )
        )
    if role is not None:
        holders = (
            select(UserRole.user_id)
            .join(Role, Role.id == UserRole.role_id)
            .where(Role.tenant_id == tenant_id, Role.name == role)
        )
        stmt = stmt.where(User.id.in_(holders))
    if is_active is not None:
        stmt = stmt.where(User.is_active.is_(is_active))
    rows, next_cursor = paginate(session, stmt, User, limit, cursor)
    roles: dict[uuid.UUID, list[str]] = {row.id: [] for row in rows}
    if roles:
        memberships = session.execute(
            select(UserRole.user_id, Role.name)
            .join(Role, Role.id == UserRole.role_id)
            .where(UserRole.tenant_id == tenant_id, UserRole.user_id.in_(list(roles)))
        )
        for user_id, name in memberships:
            roles[user_id].append(name)
    listed = [UserListed(**row._asdict(), role_names=sorted(roles[row.id])) for row in rows]
    return listed, next_cursor


def get_user(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    return get_in_tenant(session, User, tenant_id, user_id)


# ---------------------------------------------------------------------------- changing


def create_user(
    session: Session,
    passwords: Passwords,
    tenant_id: uuid.UUID,
    actor: Principal,
    *,
    username: str,
    password: str,
    email: str | None = None,
    roles: Iterable[str] = (),
) -> User:
    """A new user of the tenant, holding `roles` (names of the tenant's roles).

    `username` arrives validated and NFKC-normalised (schemas.normalise_username).
    """
    _refuse_bad_password(password)  # the length first: no strength check of a 100 kB string
    with unit_of_work(session):
        tenant = get_tenant(session, tenant_id)
        _refuse_weak_password(passwords, password, username, tenant)
        granted = _resolve_roles(session, tenant, roles)
        _ensure_grantable(session, actor, tenant, granted)
        user = User(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            username=username,
            username_key=username_key(username),
            username_skeleton=username_skeleton(username),
            email=email,
            password_hash=passwords.hash(password),
            memberships=[],
        )
        session.add(user)
        record(
            session,
            AuditAction.USER_CREATED,
            actor,
            target=user,
            details={"username": username, "email": email, "roles": _names(granted)},
        )
        # A duplicate (even one committed a moment ago by a concurrent request) is a 409.
        flush_or_conflict(session, DUPLICATE_USERNAME)
        user.memberships.extend(
            UserRole(tenant_id=tenant.id, user_id=user.id, role_id=role.id, role=role) for role in granted
        )
        flush_or_conflict(session, ROLES_CHANGED_CONCURRENTLY)
    return user


class OwnPasswordNeedsCurrent(Problem):
    status = 403
    code = "permission_denied"
    title = "Forbidden"

    def __init__(self) -> None:
        # ASVS V2.1.6: changing one's own password requires the current one.
        super().__init__("Change your own password at POST /auth/password, with your current password.")


def update_user(
    session: Session,
    passwords: Passwords,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: Principal,
    *,
    email: str | Unchanged | None = UNCHANGED,
    is_active: bool | Unchanged = UNCHANGED,
    password: str | Unchanged = UNCHANGED,
) -> User:
    """Change a user's email (None removes it), active flag or password (app.partial)."""
    if password is not UNCHANGED:
        _refuse_bad_password(password)
    with unit_of_work(session):
        tenant = get_tenant(session, tenant_id)
        user = get_in_tenant(session, User, tenant_id, user_id)
        if password is not UNCHANGED:
            _refuse_weak_password(passwords, password, user.username, tenant)
        _ensure_may_manage(session, actor, tenant, user)
        changed: list[str] = []
        if email is not UNCHANGED and email != user.email:
            user.email = email
            changed.append("email")
        if password is not UNCHANGED:
            if _own_session(actor, user) is not None:
                raise OwnPasswordNeedsCurrent()
            user.password_hash = passwords.hash(password)
            revoke_sessions(session, user.id, reason="password_reset")
            changed.append("password")
        if is_active is True and not user.is_active:
            user.is_active = True
            changed.append("is_active")
        if changed:
            record(session, AuditAction.USER_UPDATED, actor, target=user, details={"changed": changed})
        if is_active is False and user.is_active:
            _keep_an_administrator(session, tenant, user, losing=user.role_names)
            user.is_active = False
            revoke_sessions(session, user.id, reason="deactivated")
            invalidate_access_tokens(session, [user.id])  # and their clients' (no revival later)
            record(session, AuditAction.USER_DEACTIVATED, actor, target=user)
    return user


def replace_roles(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, actor: Principal, role_names: Iterable[str]
) -> User:
    """Make `role_names` the user's roles; the user's access tokens stop working at once."""
    if actor.kind is PrincipalKind.USER and actor.subject_uuid == user_id:
        # Separation of duties: an administrator never widens (or narrows) their own access.
        raise PermissionDenied([], detail="You cannot change your own roles.")
    with unit_of_work(session):
        tenant = get_tenant(session, tenant_id)
        user = get_in_tenant(session, User, tenant_id, user_id)
        # Concurrent PUTs of one user's roles take turns, and each compares with what the
        # one before it committed: the same state sent twice is a 200 both times, not a 409.
        session.refresh(user, with_for_update=True)
        _ensure_may_manage(session, actor, tenant, user)
        wanted = _resolve_roles(session, tenant, role_names)
        _ensure_grantable(session, actor, tenant, wanted)
        before, after = user.role_names, _names(wanted)
        if before == after:
            return user
        _keep_an_administrator(session, tenant, user, losing=set(before) - set(after))
        kept = [m for m in user.memberships if m.role.name in after]
        added = [
            UserRole(tenant_id=tenant.id, user_id=user.id, role_id=role.id, role=role)
            for role in wanted
            if role.name not in before
        ]
        user.memberships = kept + added
        flush_or_conflict(session, ROLES_CHANGED_CONCURRENTLY)  # a role deleted meanwhile: 409
        record(
            session, AuditAction.USER_ROLES_CHANGED, actor, target=user, details={"from": before, "to": after}
        )
        invalidate_access_tokens(session, [user.id])
    return user


def delete_user(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, actor: Principal) -> None:
    """Delete a user; memberships and login sessions go with it (ON DELETE CASCADE)."""
    with unit_of_work(session):
        tenant = get_tenant(session, tenant_id)
        user = get_in_tenant(session, User, tenant_id, user_id)
        _ensure_may_manage(session, actor, tenant, user)
        _keep_an_administrator(session, tenant, user, losing=user.role_names)
        record(session, AuditAction.USER_DELETED, actor, target=user, details={"username": user.username})
        invalidate_access_tokens(session, [user.id])  # their clients' tokens, until re-owned
        session.delete(user)


# ---------------------------------------------------------------------------- rules


def _refuse_bad_password(password: str) -> None:
    problem = password_length_problem(password)
    if problem:
        raise ValidationFailed([FieldError("password", problem)])


def _refuse_weak_password(passwords: Passwords, password: str, username: str, tenant: Tenant) -> None:
    problem = password_problem(
        password,
        user_inputs=name_words(username, tenant.slug, tenant.name),
        min_score=passwords.min_score,
    )
    if problem:
        raise ValidationFailed([FieldError("password", problem)])


def _resolve_roles(session: Session, tenant: Tenant, names: Iterable[str]) -> list[Role]:
    """The tenant's roles of these names (never another tenant's); unknown names are a 422."""
    wanted = set(names)
    found = roles_by_name(session, tenant, wanted)
    unknown = sorted(wanted - set(found))
    if unknown:
        raise ValidationFailed([FieldError("roles", "no such role in this tenant: " + ", ".join(unknown))])
    return sorted(found.values(), key=lambda role: role.name)


def _names(roles: Iterable[Role]) -> list[str]:
    return sorted(role.name for role in roles)


def _ensure_grantable(session: Session, actor: Principal, tenant: Tenant, roles: Iterable[Role]) -> None:
    catalog = current_catalog(session)
    permissions: set[str] = set()
    for role in roles:
        # Unfiltered: a platform permission smuggled into an ordinary tenant's role is refused (422).
        permissions |= role_permissions(role, catalog, in_platform_tenant=True)
    ensure_grantable_now(session, actor, permissions, in_platform_tenant=tenant.is_platform, field="roles")


def _ensure_may_manage(session: Session, actor: Principal, tenant: Tenant, user: User) -> None:
    """Refuse to touch a user who holds a permission the actor lacks: setting their password
    or roles would hand the actor that permission (privilege escalation, OWASP API5)."""
    catalog = current_catalog(session)
    held = user_access(session, user.id, tenant, catalog).permissions
    missing = held - held_now(session, actor, catalog)
    if missing:
        raise PermissionDenied(
            missing,
            detail="You cannot change a user who holds permissions you do not hold: "
            + ", ".join(sorted(missing))
            + ".",
        )


def _administering_roles(tenant: Tenant) -> frozenset[str]:
    if tenant.is_platform:
        return frozenset({BuiltinRole.ADMIN, BuiltinRole.PLATFORM_ADMIN})
    return frozenset({BuiltinRole.ADMIN})


def _keep_an_administrator(session: Session, tenant: Tenant, user: User, *, losing: Iterable[str]) -> None:
    """Refuse (409) a change that leaves the tenant without an active holder of a built-in
    administering role: nobody could manage its users and roles any more.

    Runs in the change's own transaction. Every such check of a tenant first locks the
    built-in role rows, so two concurrent demotions are serialised and the second one
    counts after the first committed (FOR NO KEY UPDATE: granting the role, which only
    takes a KEY SHARE lock on it, is not blocked). On SQLite `unit_of_work` made this
    transaction the one writer already.
    """
    at_stake = _administering_roles(tenant) & set(losing)
    if not user.is_active or not at_stake:
        return
    guarded = session.execute(
        select(Role.id, Role.name)
        .where(Role.tenant_id == tenant.id, Role.builtin.is_(True), Role.name.in_(at_stake))
        .order_by(Role.id)
        .with_for_update(key_share=True)
    ).all()
    for role_id, role_name in guarded:
        others = session.scalar(
            select(func.count())
            .select_from(UserRole)
            .join(User, User.id == UserRole.user_id)
            .where(UserRole.role_id == role_id, User.is_active.is_(True), User.id != user.id)
        )
        if not others:
            raise Conflict(
                f"This is the tenant's last active user with the '{role_name}' role; "
                f"give the role to another active user first."
            )


def _own_session(actor: Principal, user: User) -> uuid.UUID | None:
    if actor.kind is PrincipalKind.USER and actor.subject_uuid == user.id:
        return actor.session_id
    return None
