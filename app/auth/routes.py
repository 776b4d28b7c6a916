"""`/auth/*`: login, refresh, logout and who-am-I."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_openapi3 import APIBlueprint, Tag

from app.auth import service
from app.auth.schemas import (
    LoginBody,
    MeClientOut,
    MeOut,
    MeUserOut,
    PasswordChangeBody,
    SessionList,
    SessionOut,
    SessionPath,
    TenantOut,
    TokenPairOut,
)
from app.database import db_session
from app.schemas import CREDENTIAL_PROBLEMS, PROBLEM_RESPONSES, PageQuery, page_of
from app.security import passwords, settings
from app.security.login_backoff import login_backoff
from app.security.rate_limits import (
    count_password_guess,
    login_limits,
    password_change_limits,
    refresh_limits,
)
from policies import PrincipalKind, authenticated, current_principal, public, refresh_token_required

bp = APIBlueprint("auth", __name__, url_prefix="/auth", abp_tags=[Tag(name="auth")])


def client_info() -> service.ClientInfo:
    return service.ClientInfo(ip_address=request.remote_addr, user_agent=request.user_agent.string)


def login_with(body: LoginBody) -> dict[str, Any]:
    pair = service.login(
        db_session(),
        passwords(),
        settings(),
        tenant_slug=service.resolve_tenant_slug(body.tenant, settings()),
        username=body.username,
        password=body.password,
        client=client_info(),
        backoff=login_backoff(),
    )
    return pair.as_response()


@bp.post("/login", responses={200: TokenPairOut, **CREDENTIAL_PROBLEMS})
@public("the way in: credentials are checked here")
@login_limits()
def login(body: LoginBody) -> dict[str, Any]:
    """Exchange a tenant, username and password for an access and a refresh token."""
    return login_with(body)


@bp.post("/refresh", responses={200: TokenPairOut, **PROBLEM_RESPONSES}, operation_id="refreshTokens")
@refresh_token_required()
@refresh_limits()
def refresh() -> dict[str, Any]:
    """Rotate the token pair; a refresh token presented twice revokes its whole session."""
    return service.refresh(db_session(), current_principal(), settings()).as_response()


@bp.post("/logout", responses={204: None, **PROBLEM_RESPONSES})
@authenticated(principals=[PrincipalKind.USER])
def logout() -> tuple[str, int]:
    """End the caller's login session: its tokens stop working on the next request."""
    service.logout(db_session(), current_principal())
    return "", 204


@bp.get("/me", responses={200: MeOut, **PROBLEM_RESPONSES}, operation_id="getMe")
@authenticated()
def me() -> dict[str, Any]:
    """Who the token belongs to, its tenant, roles and effective permissions."""
    principal = current_principal()
    user, tenant = service.whoami(db_session(), principal)
    out = MeOut(
        user=MeUserOut.model_validate(user) if user else None,
        client=MeClientOut(client_id=principal.subject) if user is None else None,
        tenant=TenantOut.model_validate(tenant),
        roles=list(principal.roles),
        permissions=sorted(principal.permissions),
        session_id=principal.session_id,
    )
    # `user` or `client`, and `session_id`, only where they apply; a user's own null
    # fields (`email`, `last_login_at`) are sent as null, as the document says.
    return {key: value for key, value in out.model_dump(mode="json").items() if value is not None}


@bp.post("/password", responses={204: None, **PROBLEM_RESPONSES})
@authenticated(principals=[PrincipalKind.USER])
@password_change_limits()
def change_password(body: PasswordChangeBody) -> tuple[str, int]:
    """Change one's own password; every other session of the user ends at once."""
    service.change_password(
        db_session(),
        passwords(),
        current_principal(),
        current=body.current_password,
        new=body.new_password,
        count_guess=count_password_guess,
    )
    return "", 204


@bp.get("/sessions", responses={200: SessionList, **PROBLEM_RESPONSES})
@authenticated(principals=[PrincipalKind.USER])
def list_sessions(query: PageQuery) -> dict[str, Any]:
    """The caller's own open login sessions, newest first, a page at a time."""
    principal = current_principal()
    sessions, next_cursor = service.list_sessions(
        db_session(), principal, limit=query.limit, cursor=query.cursor
    )
    items = [
        SessionOut.model_validate({**_session_fields(s), "current": s.id == principal.session_id}).model_dump(
            mode="json"
        )
        for s in sessions
    ]
    return page_of(items, next_cursor)


@bp.delete("/sessions/<uuid:sid>", responses={204: None, **PROBLEM_RESPONSES}, operation_id="endSession")
@authenticated(principals=[PrincipalKind.USER])
def end_session(path: SessionPath) -> tuple[str, int]:
    """End one of the caller's own sessions (another user's answers 404)."""
    service.end_session(db_session(), current_principal(), path.sid)
    return "", 204


def _session_fields(login_session: Any) -> dict[str, Any]:
    names = ("id", "created_at", "expires_at", "last_refreshed_at", "user_agent", "ip_address")
    return {name: getattr(login_session, name) for name in names}
