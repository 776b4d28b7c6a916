"""The policy decorators: thin wrappers over flask-jwt-extended's `verify_jwt_in_request`.

Each decorator records its `RoutePolicy` on the view (for the registry) and enforces it:
token first, then tenant scope, permissions and ownership from the claims, and only then
the request is bound to the view's declared models (policies.binding): unauthenticated
input is never parsed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import current_app, g, has_request_context, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from policies.binding import RequestModels
from policies.catalog import BUILTIN_NAMES, Permission
from policies.hooks import ClientCaller, PolicyHooks, current_hooks
from policies.principal import Principal, PrincipalKind, principal_of
from policies.problems import NotFound, PermissionDenied, Problem, Unauthenticated, WrongPrincipalKind
from policies.rules import Ownership, RoutePolicy, TokenKind

P = ParamSpec("P")
R = TypeVar("R")

POLICY_ATTRIBUTE = "__authz_policy__"


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
            return view(*args, **bound)

        setattr(guarded, POLICY_ATTRIBUTE, policy)
        # flask-openapi3 reads the annotations for the document but leaves binding to us,
        # so that input is parsed only after the policy allowed the request.
        guarded.__delay_validate_request__ = True  # type: ignore[attr-defined]  # flask-openapi3 reads it
        return guarded

    return decorator


def enforce(policy: RoutePolicy, view_args: Mapping[str, Any]) -> Principal | None:
    """Apply `policy` to the current request; raise a Problem to deny."""
    if policy.is_public:
        return None
    hooks = current_hooks()
    if policy.client_scope is not None:
        caller = hooks.client_authenticator()
        if caller is not None:
            # The client is the request's principal, so that a refusal is audited like any other.
            client = Principal.client_by_credentials(caller.client_id, caller.tenant_id, caller.scopes)
            g.authz_principal = client
            g.authz_client_caller = caller
            if policy.client_scope not in caller.scopes:
                denial = PermissionDenied([policy.client_scope])
                _record(hooks, client, denial)
                raise denial
            return client
        if not _bearer_presented():
            raise Unauthenticated("Authenticate as a client, or with an access token.", error=None)
    verify_jwt_in_request(refresh=policy.token is TokenKind.REFRESH)
    principal = principal_of(get_jwt())
    hooks.token_state_check(principal)
    principal = _in_catalog_now(hooks, principal)
    g.authz_principal = principal

    try:
        _authorize(hooks, policy, principal, view_args)
    except (PermissionDenied, NotFound) as denial:
        _record(hooks, principal, denial)
        raise
    return principal


def _bearer_presented() -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


def client_caller() -> ClientCaller | None:
    """The client a route with a `client_scope` admitted by that scope (its credentials in the
    request, or its own access token), if any; None when a bearer held the route's permissions."""
    caller: ClientCaller | None = g.get("authz_client_caller")
    return caller


def _in_catalog_now(hooks: PolicyHooks, principal: Principal) -> Principal:
    """Drop application permissions removed since the token was issued (no cost for tokens
    carrying built-in permissions only)."""
    application = principal.permissions - BUILTIN_NAMES
    if not application:
        return principal
    defined = hooks.application_catalog()
    if application <= defined:
        return principal
    return replace(principal, permissions=principal.permissions - (application - defined))


def _record(hooks: PolicyHooks, principal: Principal, denial: Problem) -> None:
    denial.extra["decision_id"] = hooks.denial_recorder(principal, denial)


def is_denial(problem: Problem) -> bool:
    """A 403 `permission_denied`, whoever raised it (a route's policy or a service's guard)."""
    return problem.status == PermissionDenied.status and problem.code == PermissionDenied.code


def ensure_denial_recorded(problem: Problem) -> None:
    """Record a denial on its way out that nobody recorded yet: one raised by a service's
    guard (grant guards, takeover guards, one's own roles) inside a unit of work whose
    rollback took everything else with it. The recorder writes in a transaction of its
    own, so the denial is audited and the 403 carries its `decision_id`, as at the policy
    layer. One mechanism at the way out, not a call at every raise."""
    if not has_request_context() or not is_denial(problem) or "decision_id" in problem.extra:
        return
    principal: Principal | None = g.get("authz_principal")
    if principal is not None:
        _record(current_hooks(), principal, problem)


def _enforce_field_permissions(policy: RoutePolicy, principal: Principal, body: Any) -> None:
    """A body field that needs a further permission, sent without it, is a 403 naming it."""
    sent: set[str] = getattr(body, "model_fields_set", set())
    for name, permission in policy.field_permissions:
        if name in sent and not principal.holds(permission):
            denial = PermissionDenied([permission], detail=f"Only a holder of {permission} may set '{name}'.")
            _record(current_hooks(), principal, denial)
            raise denial


def _authorize(
    hooks: PolicyHooks, policy: RoutePolicy, principal: Principal, view_args: Mapping[str, Any]
) -> None:
    if principal.kind not in policy.principals:
        raise WrongPrincipalKind(policy.principals)
    if policy.tenant_param is not None:
        tenant_id = _path_uuid(view_args.get(policy.tenant_param))
        if tenant_id != principal.tenant_id:
            # Another tenant answers exactly like a missing one (API.md), unless the
            # caller is a platform operator, whose platform permission stands in.
            if not principal.holds(policy.platform_bypass):
                raise NotFound()
            if not hooks.tenant_exists(tenant_id):
                raise NotFound()
            return
    missing = principal.missing(policy.permissions)
    if missing and policy.client_scope is not None and principal.kind is PrincipalKind.CLIENT:
        # RFC 7662 §2.1: a client may present its own access token instead of its secret; its
        # claims are its effective scopes (an owner's loss ends the token: authz_version).
        if not principal.holds(policy.client_scope):
            raise PermissionDenied([policy.client_scope])
        g.authz_client_caller = ClientCaller(principal.subject, principal.tenant_id, principal.permissions)
        missing = frozenset()
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


def authenticated(
    *, principals: Iterable[PrincipalKind] = tuple(PrincipalKind), strict_input: bool = True
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Any valid access token of an active principal (of the kinds `principals` names)."""
    return _guard(
        RoutePolicy(token=TokenKind.ACCESS, principals=frozenset(principals), strict_input=strict_input)
    )


def client_or_token(
    client_scope: Permission, token_permission: Permission
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A client whose effective scopes hold `client_scope`, authenticating in the request or
    presenting its own access token, or any access token holding `token_permission` (RFC 7662
    §2.1: the protected resource authenticates, by client authentication or a bearer token)."""
    return _guard(
        RoutePolicy(
            token=TokenKind.ACCESS,
            permissions=frozenset({token_permission}),
            client_scope=client_scope,
        )
    )


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
    ownership: Ownership | None = None,
    field_permissions: Mapping[str, Permission] | None = None,
    strict_input: bool = True,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The path's tenant must be the caller's (else 404), and the caller must hold `permissions`.

    With `ownership`, the caller must also own the target unless they hold its override.
    `field_permissions` name body fields that need a further permission when sent.
    """
    if not permissions:
        raise TypeError("tenant_scoped() needs at least one permission")
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
