"""A resource server in a few lines: a downstream Flask service protecting its routes with
our access tokens, in the same vocabulary as our own routes (`tenant_scoped`, `require`).

    from policies.resource_server import ResourceServer

    rs = ResourceServer(
        issuer="https://authz.example",          # our AUTHZ_ISSUER
        audience="https://invoices.example",     # what our tokens carry in `aud`
        jwks_url="https://authz.example/.well-known/jwks.json",
        decision_url="https://authz.example/access/v1/evaluation",   # optional
        decision_token=lambda: pep_token(),      # optional: a token holding decisions:evaluate
    )

    @app.post("/tenants/<tid>/invoices/<invoice_id>/approve")
    @rs.tenant_scoped("invoices:approve", resource="invoice_id")
    def approve(tid, invoice_id): ...

Offline (the default), a token is verified against our JWKS (signature, `iss`, `aud`,
`exp`/`nbf`, the RFC 9068 header `typ` and our `type: access`, so a refresh token never
passes), its `tenant_id` must be the path's tenant (404 otherwise, as we answer), and its
`permissions` claim must hold what the route requires. With `online=True` (or when a token's
claim left application permissions out: `authz_partial`), the route asks our decision API
instead: ownership is checked, and a role change, a deactivation, a revoked client or a
suspended tenant counts at once. The decision API decides about the subject, not the token: a
token revoked on its own (logout, password change) still verifies here until it expires;
`POST /auth/introspect` is the way to ask about one token.

Errors are RFC 9457 problem+json: 401 with `WWW-Authenticate: Bearer`, 403, 404.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import jwt
from flask import Response, abort, g, request

P = ParamSpec("P")
R = TypeVar("R")

ASYMMETRIC = ("RS256", "ES256", "EdDSA")
PLATFORM_READ = "platform:read"
PLATFORM_WRITE = "platform:write"


def typ_media_type(typ: Any) -> str | None:
    """A JWT header `typ` as the media type it names: case-insensitive, with `application/`
    implied when it has no slash (RFC 7515 §4.1.9), so `application/at+jwt` is `at+jwt`
    (RFC 9068 §4 accepts both spellings). None when it is not a string."""
    if not isinstance(typ, str):
        return None
    lowered = typ.lower()
    return lowered.removeprefix("application/") if "/" in lowered else lowered


@dataclass(frozen=True)
class Caller:
    """Who called, from verified claims."""

    subject: str
    kind: str  # "user" or "client"
    tenant_id: str
    permissions: frozenset[str]
    partial: bool
    claims: Mapping[str, Any] = field(repr=False)

    def holds(self, permission: str) -> bool:
        return permission in self.permissions


def _problem(status: int, code: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": code.replace("_", " "), "status": status, "detail": detail}
    response = Response(
        json.dumps({**body, "code": code, **extra}), status=status, mimetype="application/problem+json"
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


class ResourceServer:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        decision_url: str | None = None,
        decision_token: Callable[[], str] | None = None,
        online: bool = False,
        require_typ: str | None = "at+jwt",
        leeway: int = 30,
        timeout: float = 2.0,
    ) -> None:
        if online and not (decision_url and decision_token):
            raise ValueError("online decisions need decision_url and decision_token")
        self.issuer, self.audience = issuer, audience
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=int(timeout) or 1)
        self.decision_url, self.decision_token = decision_url, decision_token
        self.online, self.require_typ = online, require_typ
        self.leeway, self.timeout = leeway, timeout

    # ------------------------------------------------------------------ verification

    def verify(self, token: str) -> Caller:
        """Verify offline; aborts with a 401 problem on anything wrong."""
        try:
            header = jwt.get_unverified_header(token)
            typ = typ_media_type(header.get("typ"))
            if self.require_typ is not None and typ != typ_media_type(self.require_typ):
                raise jwt.InvalidTokenError("not an access token (RFC 9068 typ)")
            key = self.jwks.get_signing_key_from_jwt(token)
            if key.algorithm_name not in ASYMMETRIC:
                raise jwt.InvalidTokenError("unexpected algorithm")
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "nbf", "iss", "sub", "aud", "jti"]},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            abort(_problem(401, "token_invalid", f"The token is not valid here: {exc.__class__.__name__}."))
        permissions = claims.get("permissions")
        tenant_id = claims.get("tenant_id")
        if (
            claims.get("type") != "access"
            or not isinstance(permissions, list)
            or not all(isinstance(p, str) for p in permissions)
            or not isinstance(tenant_id, str)
        ):
            abort(_problem(401, "token_invalid", "The token is not one of our access tokens."))
        return Caller(
            subject=claims["sub"],
            kind="user" if "sid" in claims else "client",
            tenant_id=tenant_id,
            permissions=frozenset(permissions),
            partial=claims.get("authz_partial") is True,
            claims=claims,
        )

    def _caller(self) -> Caller:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            abort(_problem(401, "token_missing", "An access token is required."))
        caller = self.verify(token.strip())
        g.resource_server_caller = caller
        return caller

    # ------------------------------------------------------------------ decisions

    def ask(self, caller: Caller, permission: str, resource_id: str, properties: Mapping[str, Any]) -> bool:
        """Our decision API's answer now (AuthZEN 1.0 access evaluation)."""
        if not (self.decision_url and self.decision_token):
            return False
        rtype, _, action = permission.partition(":")
        body = {
            "subject": {
                "type": caller.kind,
                "id": caller.subject,
                "properties": {"tenant_id": caller.tenant_id},
            },
            "action": {"name": action},
            "resource": {"type": rtype, "id": resource_id, "properties": dict(properties)},
        }
        http = urllib.request.Request(  # noqa: S310 - the operator configures our URL
            self.decision_url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.decision_token()}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(http, timeout=self.timeout) as response:  # noqa: S310
                return json.load(response).get("decision") is True
        except (urllib.error.URLError, TimeoutError, ValueError):
            return False  # deny by default when the decision cannot be had

    # ------------------------------------------------------------------ decorators

    def require(
        self, *permissions: str, resource: str | None = None, online: bool | None = None
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """A valid access token holding every one of `permissions` (any tenant of the caller's)."""
        return self._guard(permissions, tenant_param=None, resource=resource, online=online)

    def tenant_scoped(
        self,
        *permissions: str,
        tenant_param: str = "tid",
        resource: str | None = None,
        online: bool | None = None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """The path's tenant must be the caller's (404 otherwise, unless a platform permission
        stands in), and the caller must hold `permissions`; `resource` names the view argument
        holding the resource id asked about online."""
        return self._guard(permissions, tenant_param=tenant_param, resource=resource, online=online)

    def _guard(
        self,
        permissions: Iterable[str],
        *,
        tenant_param: str | None,
        resource: str | None,
        online: bool | None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        required = tuple(permissions)
        if not required:
            raise TypeError("name at least one permission")
        ask_online = self.online if online is None else online
        if ask_online and not (self.decision_url and self.decision_token):
            raise ValueError("online decisions need decision_url and decision_token")

        def decorator(view: Callable[P, R]) -> Callable[P, R]:
            @wraps(view)
            def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
                caller = self._caller()
                if tenant_param is not None and str(kwargs.get(tenant_param)) != caller.tenant_id:
                    bypass = PLATFORM_READ if all(p.endswith(":read") for p in required) else PLATFORM_WRITE
                    if not caller.holds(bypass):
                        abort(_problem(404, "not_found", "The requested resource does not exist."))
                resource_id = str(kwargs.get(resource, "")) if resource else ""
                missing = [p for p in required if not self._allows(caller, p, resource_id, ask_online)]
                if missing:
                    abort(
                        _problem(
                            403,
                            "permission_denied",
                            f"This operation requires: {', '.join(missing)}.",
                            required_permissions=missing,
                        )
                    )
                return view(*args, **kwargs)

            return guarded

        return decorator

    def _allows(self, caller: Caller, permission: str, resource_id: str, online: bool) -> bool:
        if online or (caller.partial and permission not in caller.permissions):
            return self.ask(caller, permission, resource_id or "*", {})
        return caller.holds(permission)


def current_caller() -> Caller:
    """The verified caller of a guarded downstream route."""
    caller: Caller | None = g.get("resource_server_caller")
    if caller is None:
        raise RuntimeError("current_caller() used on a route no ResourceServer decorator guards")
    return caller
