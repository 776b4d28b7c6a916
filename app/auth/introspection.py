"""RFC 7662 token introspection, revocation-aware: a token is active only if it verifies
and its session, user, client and tenant still allow it on this very request."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
from flask_jwt_extended import decode_token

from app.security.token_state import token_state_checker
from policies.principal import Principal
from policies.problems import Problem

INACTIVE: dict[str, Any] = {"active": False}
# What an active answer shows (RFC 7662 §2.2 members, plus our own claims).
SHOWN_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "tenant_id", "roles", "permissions", "sid")


def describe(token: str, visible_tenant: uuid.UUID | None) -> dict[str, Any]:
    """The introspection answer for `token`. A caller limited to `visible_tenant` learns
    nothing about another tenant's tokens: they are simply inactive (API.md isolation)."""
    try:
        claims = decode_token(token)
        principal = Principal.from_claims(claims)
        token_state_checker()(principal)
    except (jwt.InvalidTokenError, Problem, UnicodeError):
        return dict(INACTIVE)
    if visible_tenant is not None and principal.tenant_id != visible_tenant:
        return dict(INACTIVE)
    answer = {name: claims[name] for name in SHOWN_CLAIMS if name in claims}
    answer.update(
        active=True,
        scope=" ".join(sorted(principal.permissions)),
        token_type="Bearer" if principal.token_type == "access" else "refresh_token",
        token_use=principal.token_type,
    )
    if "client_id" in claims:
        answer["client_id"] = claims["client_id"]
    return answer
