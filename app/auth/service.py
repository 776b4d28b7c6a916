"""Login, refresh rotation with reuse detection, logout, and who-am-I."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from app.audit import AuditAction, record, record_login_failure
from app.catalog.effective import Access, user_access
from app.database import rows_changed, unit_of_work
from app.errors import FieldError, InvalidCredentials, ValidationFailed
from app.pagination import paginate
from app.security.login_backoff import LoginBackoff, RateLimited
from app.security.password_policy import name_words, password_problem
from app.security.passwords import Passwords
from app.security.rate_limits import LOGIN_BY_ACCOUNT, count_refusal, login_account
from app.security.revocation import mark_revocation, revoke_sessions
from app.security.token_state import revoked
from app.security.tokens import TokenClaims, TokenPair, issue_pair
from app.settings import Settings
from models import LoginSession, Tenant, TenantStatus, User, username_key, utcnow
from policies.principal import Principal, PrincipalKind
from policies.problems import NotFound, Problem


@dataclass(frozen=True)
class ClientInfo:
    ip_address: str | None
    user_agent: str | None


def effective_access(session: Session, user: User, tenant: Tenant) -> Access:
    """The user's role names and effective permissions now (policies.derivation)."""
    return user_access(session, user.id, tenant)


def resolve_tenant_slug(requested: str | None, settings: Settings) -> str:
    slug = requested or settings.default_tenant
    if not slug:
        raise ValidationFailed([FieldError("tenant", "Field required (no default tenant is configured)")])
    return slug


# The tenant a login names, with the user it names if there is one (built once).
TENANT_WITH_USER = (
    select(Tenant, User)
    .outerjoin(User, (User.tenant_id == Tenant.id) & (User.username_key == bindparam("username_key")))
    .where(Tenant.slug == bindparam("slug"))
)


def login(
    session: Session,
    passwords: Passwords,
    settings: Settings,
    *,
    tenant_slug: str,
    username: str,
    password: str,
    client: ClientInfo,
    backoff: LoginBackoff,
) -> TokenPair:
    """Check the credentials and open a login session.

    The account's backoff is consulted first: a throttled attempt is refused (429) before
    the password is looked at, so that throttling tells nothing about a guess, and it is
    keyed by the name given, so that it tells nothing about whether the user exists.
    An unknown tenant, an unknown or inactive user, a suspended tenant and a wrong password
    all cost one argon2 verify and end in the same 401 (OWASP ASVS V2.2.1: no enumeration,
    no password oracle); the audit log keeps the real reason.
    """
    account = login_account(tenant_slug, username)
    wait = backoff.store.admit(account)
    if wait > 0:
        count_refusal(LOGIN_BY_ACCOUNT)
        backoff.pace.wait_like_a_failure()  # as long as a failure takes, with no work
        raise RateLimited(math.ceil(wait))
    try:
        row = session.execute(
            TENANT_WITH_USER, {"slug": tenant_slug, "username_key": username_key(username)}
        ).one_or_none()
    except BaseException:
        backoff.store.refund(account)  # no verdict (the database did not answer): not counted
        raise
    tenant, user = (row.Tenant, row.User) if row else (None, None)
    matched = passwords.verify(user.password_hash if user else None, password)
    reason = _failure_reason(tenant, user, matched)
    if tenant is None or user is None or reason is not None:
        record_login_failure(session, settings, tenant, user, reason or "unknown_user")
        backoff.pace.failed()
        raise InvalidCredentials()
    backoff.store.succeeded(account)

    with unit_of_work(session):
        _ensure_still_active(session, tenant)
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash(password)
            record(session, AuditAction.PASSWORD_REHASHED, tenant_id=tenant.id, actor_id=user.id)
        now = utcnow()
        login_session = LoginSession(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            user_id=user.id,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl),
            refresh_jti="",
            user_agent=(client.user_agent or "")[:256] or None,
            ip_address=client.ip_address,
        )
        pair = _issue(session, user, tenant, login_session.id)
        login_session.refresh_jti = pair.refresh_jti
        session.add(login_session)
        user.last_login_at = now
        record(
            session,
            AuditAction.LOGIN_SUCCEEDED,
            actor_id=user.id,
            target=login_session,
        )
    return pair


TENANT_STATUS_KEY_SHARED = (
    select(Tenant.status)
    .where(Tenant.id == bindparam("tenant_id"))
    .with_for_update(read=True, key_share=True)
)


def _ensure_still_active(session: Session, tenant: Tenant) -> None:
    """Suspension ends the tenant's sessions (app.tenants.service); a session opened while
    it commits would escape it and live on after reactivation. The tenant's row, locked
    FOR KEY SHARE until this login commits, makes the two wait for each other: a login after
    the suspension sees it, a suspension after the login ends its session. (SQLite: the
    unit of work is the one writer already.)"""
    status = session.scalar(TENANT_STATUS_KEY_SHARED, {"tenant_id": tenant.id})
    if status != TenantStatus.ACTIVE:
        # The same answer as any login on a suspended tenant: no password oracle (issue 15).
        raise InvalidCredentials()


def _failure_reason(tenant: Tenant | None, user: User | None, matched: bool) -> str | None:
    if tenant is None:
        return "unknown_tenant"
    if user is None:
        return "unknown_user"
    if not matched:
        return "wrong_password"
    if not user.is_active:
        return "inactive_user"
    if not tenant.is_active:
        return "tenant_suspended"  # the right password of a suspended tenant: still a 401
    return None


def _issue(session: Session, user: User, tenant: Tenant, session_id: uuid.UUID) -> TokenPair:
    access = effective_access(session, user, tenant)
    claims = TokenClaims(
        tenant_id=tenant.id,
        roles=access.roles,
        permissions=sorted(access.permissions),
        authz_version=user.authz_version,
        session_id=session_id,
    )
    return issue_pair(str(user.id), claims)


def refresh(session: Session, principal: Principal, settings: Settings) -> TokenPair:
    """Rotate the pair inside its session; a refresh token used twice ends the session.

    The rotation is one conditional UPDATE, so that two concurrent uses of the same
    refresh token cannot both succeed (OAuth 2.0 Security BCP, RFC 9700 §4.14.2). A session
    lives `refresh_token_ttl` past its last use (sliding), never longer.
    """
    assert principal.session_id is not None
    user_and_tenant = session.execute(
        select(User, Tenant)
        .join(Tenant, Tenant.id == User.tenant_id)
        .where(User.id == principal.subject_uuid, User.tenant_id == principal.tenant_id)
    ).one()
    user, tenant = user_and_tenant.User, user_and_tenant.Tenant
    with unit_of_work(session):
        pair = _issue(session, user, tenant, principal.session_id)
        now = utcnow()
        rotated = rows_changed(
            session,
            update(LoginSession)
            .where(
                LoginSession.id == principal.session_id,
                LoginSession.refresh_jti == principal.token_id,
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > now,
            )
            .values(
                refresh_jti=pair.refresh_jti,
                last_refreshed_at=now,
                expires_at=now + timedelta(seconds=settings.refresh_token_ttl),
            )
            .execution_options(synchronize_session=False),
        )
        if rotated == 1:
            record(
                session,
                AuditAction.TOKEN_REFRESHED,
                tenant_id=tenant.id,
                actor=principal,
                target_type="session",
                target_id=principal.session_id,
            )
            return pair
        expired = session.scalar(
            select(LoginSession.expires_at <= now).where(LoginSession.id == principal.session_id)
        )
    if not expired:
        _end_session_on_reuse(session, principal)
    raise revoked()


def _end_session_on_reuse(session: Session, principal: Principal) -> None:
    with unit_of_work(session):
        _revoke_session(
            session,
            principal,
            principal.session_id,
            reason="refresh_reuse",
            action=AuditAction.REFRESH_REUSE_DETECTED,
            outcome="failure",
        )


def _revoke_session(
    session: Session,
    principal: Principal,
    session_id: uuid.UUID | None,
    *,
    reason: str,
    action: AuditAction,
    owner_id: uuid.UUID | None = None,
    outcome: str = "success",
) -> None:
    """End one login session, mark the revocation (its tokens fail at once) and audit it, in
    the caller's unit of work. With `owner_id`, only that user's open session ends, and any
    other (someone else's, a missing or an ended one) is a 404 with nothing marked."""
    stmt = update(LoginSession).where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
    if owner_id is not None:
        stmt = stmt.where(LoginSession.user_id == owner_id)
    ended = rows_changed(
        session,
        stmt.values(revoked_at=utcnow(), revoked_reason=reason).execution_options(synchronize_session=False),
    )
    if owner_id is not None and not ended:
        raise NotFound()
    mark_revocation(session)
    record(
        session,
        action,
        principal,
        tenant_id=principal.tenant_id,
        target_type="session",
        target_id=session_id,
        outcome=outcome,
    )


def logout(session: Session, principal: Principal) -> None:
    if principal.session_id is None:
        raise NotAUser()  # a client has no session to end; revoking it is DELETE .../clients/{id}
    with unit_of_work(session):
        _revoke_session(session, principal, principal.session_id, reason="logout", action=AuditAction.LOGOUT)


# Built once: /auth/me runs it on every call.
USER_WITH_TENANT = (
    select(User, Tenant)
    .join(Tenant, Tenant.id == User.tenant_id)
    .where(User.id == bindparam("user_id"), User.tenant_id == bindparam("tenant_id"))
)


def whoami(session: Session, principal: Principal) -> tuple[User | None, Tenant]:
    """The caller's user (None for a client) and tenant, in one query."""
    if principal.session_id is None:
        return None, session.get_one(Tenant, principal.tenant_id)
    row = session.execute(
        USER_WITH_TENANT, {"user_id": principal.subject_uuid, "tenant_id": principal.tenant_id}
    ).one()
    return row.User, row.Tenant


class NotAUser(Problem):
    status = 403
    code = "permission_denied"
    title = "Forbidden"

    def __init__(self) -> None:
        super().__init__("Only users have sessions and passwords; this token belongs to a client.")


class WrongCurrentPassword(Problem):
    status = 403
    code = "invalid_credentials"
    title = "Forbidden"

    def __init__(self) -> None:
        super().__init__("The current password is wrong.")


def _own_user(session: Session, principal: Principal) -> User:
    if principal.kind is not PrincipalKind.USER:
        raise NotAUser()
    return session.execute(
        select(User).where(User.id == principal.subject_uuid, User.tenant_id == principal.tenant_id)
    ).scalar_one()


def list_sessions(
    session: Session, principal: Principal, *, limit: int, cursor: str | None
) -> tuple[list[LoginSession], str | None]:
    """A page of the caller's open sessions, newest first (only their own: the filter is the user id)."""
    user = _own_user(session, principal)
    stmt = select(LoginSession).where(
        LoginSession.user_id == user.id,
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > utcnow(),
    )
    return paginate(session, stmt, LoginSession, limit, cursor, newest_first=True)


def end_session(session: Session, principal: Principal, session_id: uuid.UUID) -> None:
    """End one of the caller's own sessions; anyone else's is a 404, like a missing one."""
    user = _own_user(session, principal)
    with unit_of_work(session):
        _revoke_session(
            session,
            principal,
            session_id,
            reason="ended_by_user",
            action=AuditAction.SESSION_REVOKED,
            owner_id=user.id,
        )


def change_password(
    session: Session,
    passwords: Passwords,
    principal: Principal,
    *,
    current: str,
    new: str,
    count_guess: Callable[[], None],
) -> None:
    """Replace the caller's password and end every other session (ASVS V2.1.5, V3.3.3).

    `count_guess` counts the current-password check about to be made, and raises when the
    session has none left (a stolen token guessing: issue 15); a refused new password uses
    none up."""
    user = _own_user(session, principal)
    tenant = session.get_one(Tenant, principal.tenant_id)
    problem = password_problem(
        new,
        user_inputs=name_words(user.username, tenant.slug, tenant.name),
        min_score=passwords.min_score,
    )
    if problem:
        raise ValidationFailed([FieldError("new_password", problem)])
    count_guess()
    if not passwords.verify(user.password_hash, current):
        with unit_of_work(session):
            record(
                session,
                AuditAction.PASSWORD_CHANGED,
                actor=principal,
                target=user,
                outcome="failure",
                details={"reason": "wrong_current_password"},
            )
        raise WrongCurrentPassword()
    with unit_of_work(session):
        user.password_hash = passwords.hash(new)
        ended = revoke_sessions(session, user.id, reason="password_changed", keep=principal.session_id)
        record(
            session,
            AuditAction.PASSWORD_CHANGED,
            actor=principal,
            target=user,
            details={"other_sessions_ended": ended},
        )
