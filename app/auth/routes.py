"""`/auth/*`: login, refresh, logout and who-am-I."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_openapi3 import APIBlueprint, Tag

from app.auth import service
from app.auth.schemas import LoginBody, MeOut, MeUserOut, TenantOut, TokenPairOut
from app.database import db_session
from app.schemas import PROBLEM_RESPONSES
from app.security import passwords, settings
from policies import authenticated, current_principal, public, refresh_token_required

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
    )
    return pair.as_response()


@bp.post("/login", responses={200: TokenPairOut, **PROBLEM_RESPONSES})
@public("the way in: credentials are checked here")
def login(body: LoginBody) -> dict[str, Any]:
    """Exchange a tenant, username and password for an access and a refresh token."""
    return login_with(body)


@bp.post("/refresh", responses={200: TokenPairOut, **PROBLEM_RESPONSES})
@refresh_token_required()
def refresh() -> dict[str, Any]:
    """Rotate the token pair; a refresh token presented twice revokes its whole session."""
    return service.refresh(db_session(), current_principal()).as_response()


@bp.post("/logout", responses={204: None, **PROBLEM_RESPONSES})
@authenticated()
def logout() -> tuple[str, int]:
    """End the caller's login session: its tokens stop working on the next request."""
    principal = current_principal()
    if principal.session_id is not None:
        service.logout(db_session(), principal)
    return "", 204


@bp.get("/me", responses={200: MeOut, **PROBLEM_RESPONSES})
@authenticated()
def me() -> dict[str, Any]:
    """Who the token belongs to, its tenant, roles and effective permissions."""
    principal = current_principal()
    user, tenant = service.whoami(db_session(), principal)
    out = MeOut(
        user=MeUserOut.model_validate(user) if user else None,
        client={"client_id": principal.subject} if user is None else None,
        tenant=TenantOut.model_validate(tenant),
        roles=list(principal.roles),
        permissions=sorted(principal.permissions),
        session_id=principal.session_id,
    )
    return out.model_dump(mode="json", exclude_none=True)
