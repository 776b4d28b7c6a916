"""The one state lookup a token gets per request: is what it was issued for still true?

A token names its session (users) or client (integrations) and the `authz_ver` it was
issued under. One indexed query by primary key answers whether the session was revoked,
the user deactivated or deleted, the roles changed, the client revoked or rotated, or the
tenant suspended (API.md, "Immediate effect").
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from app.database import db_session
from models import Client, LoginSession, Tenant, TenantStatus, User
from policies.principal import Principal, PrincipalKind
from policies.problems import TenantSuspended, Unauthenticated

# Built once: constructing a statement per request costs more than running it on SQLite.
USER_TOKEN_STATE = (
    select(LoginSession.revoked_at, User.is_active, User.authz_version, Tenant.status)
    .join(User, User.id == LoginSession.user_id)
    .join(Tenant, Tenant.id == LoginSession.tenant_id)
    .where(
        LoginSession.id == bindparam("session_id"),
        LoginSession.user_id == bindparam("user_id"),
        LoginSession.tenant_id == bindparam("tenant_id"),
    )
)
CLIENT_TOKEN_STATE = (
    select(Client.revoked_at, Client.authz_version, Tenant.status)
    .join(Tenant, Tenant.id == Client.tenant_id)
    .where(Client.client_id == bindparam("client_id"), Client.tenant_id == bindparam("tenant_id"))
)


def revoked() -> Unauthenticated:
    return Unauthenticated("The token has been revoked.", code="token_revoked")


def check_token_state(principal: Principal) -> None:
    """Raise unless the principal's token is still valid; refresh tokens skip `authz_ver`."""
    if principal.kind is PrincipalKind.USER:
        _check_user_token(principal)
    else:
        _check_client_token(principal)


def _check_user_token(principal: Principal) -> None:
    user_id = principal.subject_uuid
    if user_id is None or principal.session_id is None:
        raise revoked()
    params = {"session_id": principal.session_id, "user_id": user_id, "tenant_id": principal.tenant_id}
    row = db_session().execute(USER_TOKEN_STATE, params).one_or_none()
    if row is None or row.revoked_at is not None or not row.is_active:
        raise revoked()
    if row.status != TenantStatus.ACTIVE:
        raise TenantSuspended("The tenant is suspended.")
    if principal.token_type == "access" and principal.authz_version != row.authz_version:
        raise revoked()


def _check_client_token(principal: Principal) -> None:
    params = {"client_id": principal.subject, "tenant_id": principal.tenant_id}
    row = db_session().execute(CLIENT_TOKEN_STATE, params).one_or_none()
    if row is None or row.revoked_at is not None or principal.authz_version != row.authz_version:
        raise revoked()
    if row.status != TenantStatus.ACTIVE:
        raise TenantSuspended("The tenant is suspended.")
