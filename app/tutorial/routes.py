"""The two routes of the tutorial this service grew from (`/login`, `/protected`).

A single-tenant deployment (`AUTHZ_DEFAULT_TENANT`) keeps its clients working unchanged:
`POST /login` with only a username and password, then `GET /protected` with the token.
"""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag

from app.auth import service
from app.auth.routes import login_with
from app.auth.schemas import LoginBody, ProtectedOut, TokenPairOut
from app.database import db_session
from app.schemas import CREDENTIAL_PROBLEMS, PROBLEM_RESPONSES
from app.security.rate_limits import login_limits
from policies import authenticated, current_principal, public

bp = APIBlueprint("tutorial", __name__, abp_tags=[Tag(name="tutorial compatibility")])


@bp.post("/login", responses={200: TokenPairOut, **CREDENTIAL_PROBLEMS})
@public("tutorial compatibility alias of POST /auth/login")
@login_limits()
def login(body: LoginBody) -> dict[str, Any]:
    """The tutorial's login: same as `POST /auth/login`."""
    return login_with(body)


@bp.get("/protected", responses={200: ProtectedOut, **PROBLEM_RESPONSES}, operation_id="tutorialProtected")
@authenticated()
def protected() -> dict[str, Any]:
    """The tutorial's protected route: who the token belongs to."""
    user, _tenant = service.whoami(db_session(), current_principal())
    return {"logged_in_as": user.username if user else current_principal().subject}
