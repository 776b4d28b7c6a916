"""The policy decorators: thin wrappers over flask-jwt-extended's `verify_jwt_in_request`.

Each decorator records its `RoutePolicy` on the view (for the registry) and enforces it:
token first, then tenant scope, permissions and ownership from the claims, and only then
the request is bound to the view's declared models (policies.binding): unauthenticated
input is never parsed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import current_app, g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from policies.binding import RequestModels
from policies.catalog import Permission
from policies.principal import Principal
from policies.problems import NotFound, PermissionDenied, Problem
from policies.rules import OwnerLoader, Ownership, RoutePolicy, TokenKind

P = ParamSpec("P")
R = TypeVar("R")

POLICY_ATTRIBUTE = "__authz_policy__"
# The app registers here the one state lookup a token gets per request (revocation,
# deactivation, tenant suspension). It raises to deny; the registry refuses to start without it.
TOKEN_STATE_CHECK = "authz.token_state_check"

TokenStateCheck = Callable[[Principal], None]
# The app registers here whether a tenant exists: a platform operator may name any tenant id,
# and one that does not exist must be a 404 on every route, as for everyone else.
TENANT_EXISTS = "authz.tenant_exists"
TenantExists = Callable[[uuid.UUID], bool]
# The app registers here how a denial is recorded (its audit log); it returns a decision id
# that the problem response carries, so that a denial can be traced to its record.
DENIAL_RECORDER = "authz.denial_recorder"
DenialRecorder = Callable[[Principal, Problem], str]


def current_principal() -> Principal:
    """The caller of a guarded route; a route without a token policy has none."""
    principal: Principal | None = g.get("authz_principal")
    if principal is None:
        raise RuntimeError("current_principal() used on a route whose policy verifies no token")
    return principal


def _guard(policy: RoutePolicy) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        if hasattr(view, POLICY_ATTRIBUTE):
            raise TypeError(f"{view.__qualname__} declares two policies")
        models = RequestModels.of(view)

        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = enforce(policy, kwargs)
            bound = models.bind(kwargs, strict_input=policy.strict_input)
            if policy.field_permissions and principal is not None:
                _enforce_field_permissions(policy, principal, bound.get("body"))
            return view(*args, **bound)  # type: ignore[arg-type]

        setattr(guarded, POLICY_ATTRIBUTE, policy)
        # flask-openapi3 reads the annotations for the document but leaves binding to us,
        # so that input is parsed only after the policy allowed the request.
        guarded.__delay_validate_request__ = True  # type: ignore[attr-defined]
        return guarded

    return decorator


def enforce(policy: RoutePolicy, view_args: Mapping[str, Any]) -> Principal | None:
    """Apply `policy` to the current request; raise a Problem to deny."""
    if policy.is_public:
        return None
    verify_jwt_in_request(refresh=policy.token is TokenKind.REFRESH)
    principal = Principal.from_claims(get_jwt())
    check_state: TokenStateCheck = current_app.extensions[TOKEN_STATE_CHECK]
    check_state(principal)
    g.authz_principal = principal

    try:
        _authorize(policy, principal, view_args)
    except (PermissionDenied, NotFound) as denial:
        _record(principal, denial)
        raise
    return principal


def _record(principal: Principal, denial: Problem) -> None:
    recorder: DenialRecorder | None = current_app.extensions.get(DENIAL_RECORDER)
    if recorder is not None:
        denial.extra["decision_id"] = recorder(principal, denial)


def _enforce_field_permissions(policy: RoutePolicy, principal: Principal, body: Any) -> None:
    """A body field that needs a further permission, sent without it, is a 403 naming it."""
    sent = getattr(body, "model_fields_set", set())
    for name, permission in policy.field_permissions:
        if name in sent and not principal.holds(permission):
            denial = PermissionDenied([permission], detail=f"Only a holder of {permission} may set '{name}'.")
            _record(principal, denial)
            raise denial


def _authorize(policy: RoutePolicy, principal: Principal, view_args: Mapping[str, Any]) -> None:
    if policy.tenant_param is not None:
        tenant_id = _path_uuid(view_args.get(policy.tenant_param))
        if tenant_id != principal.tenant_id:
            # Another tenant answers exactly like a missing one (API.md), unless the
            # caller is a platform operator, whose platform permission stands in.
            if not principal.holds(policy.platform_bypass):
                raise NotFound()
            tenant_exists: TenantExists = current_app.extensions[TENANT_EXISTS]
            if not tenant_exists(tenant_id):
                raise NotFound()
            return
    missing = principal.missing(policy.permissions)
    if missing:
        raise PermissionDenied(missing)
    if policy.ownership is not None and not principal.holds(policy.ownership.override):
        _enforce_ownership(policy.ownership, principal, view_args)


def _enforce_ownership(rule: Ownership, principal: Principal, view_args: Mapping[str, Any]) -> None:
    owner_id = rule.load_owner(principal.tenant_id, view_args)
    if owner_id is None or owner_id != principal.subject_uuid:
        raise PermissionDenied(
            [rule.override], detail=f"Only the owner, or a holder of {rule.override}, may do this."
        )


def _path_uuid(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound() from None


def public(reason: str, *, strict_input: bool = True) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Anyone may call this route; `reason` says why (it is printed with the policy table).

    `strict_input=False` (on any decorator) lets the route accept unknown query parameters
    and duplicated JSON keys, for a contract that requires it (see RoutePolicy.strict_input).
    """
    return _guard(RoutePolicy(token=TokenKind.NONE, reason=reason, strict_input=strict_input))


def authenticated(*, strict_input: bool = True) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Any valid access token of an active principal."""
    return _guard(RoutePolicy(token=TokenKind.ACCESS, strict_input=strict_input))


def refresh_token_required() -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A valid refresh token (never an access token)."""
    return _guard(RoutePolicy(token=TokenKind.REFRESH))


def require(
    *permissions: Permission, strict_input: bool = True
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """An access token holding every one of `permissions` (routes outside any tenant path)."""
    if not permissions:
        raise TypeError("require() needs at least one permission; use authenticated() for none")
    return _guard(
        RoutePolicy(token=TokenKind.ACCESS, permissions=frozenset(permissions), strict_input=strict_input)
    )


def tenant_scoped(
    *permissions: Permission,
    tenant_param: str = "tid",
    owner: OwnerLoader | None = None,
    owner_override: Permission | None = None,
    field_permissions: Mapping[str, Permission] | None = None,
    strict_input: bool = True,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The path's tenant must be the caller's (else 404), and the caller must hold `permissions`.

    With `owner`, the caller must also own the target unless they hold `owner_override`.
    `field_permissions` name body fields that need a further permission when sent.
    """
    if not permissions:
        raise TypeError("tenant_scoped() needs at least one permission")
    if (owner is None) != (owner_override is None):
        raise TypeError("owner and owner_override go together")
    ownership = Ownership(owner, owner_override) if owner and owner_override else None
    return _guard(
        RoutePolicy(
            token=TokenKind.ACCESS,
            permissions=frozenset(permissions),
            tenant_param=tenant_param,
            ownership=ownership,
            field_permissions=tuple(sorted((field_permissions or {}).items())),
            strict_input=strict_input,
        )
    )


def policy_of(view: Callable[..., Any]) -> RoutePolicy | None:
    policy = getattr(view, POLICY_ATTRIBUTE, None)
    return policy if isinstance(policy, RoutePolicy) else None


def request_policy() -> RoutePolicy | None:
    """The policy of the route the current request matched (None when it matched none), for
    request hooks that run before the view."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return policy_of(view) if view is not None else None
