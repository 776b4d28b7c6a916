"""The policy layer: the permission catalog, the Principal, the decorators and the registry.

`policies` never imports route modules; `app` imports it.
"""

from policies.catalog import (
    BUILTIN_ROLE_PERMISSIONS,
    PLATFORM_PERMISSIONS,
    TENANT_PERMISSIONS,
    BuiltinRole,
    Permission,
)
from policies.decorators import (
    authenticated,
    current_principal,
    policy_of,
    public,
    refresh_token_required,
    require,
    tenant_scoped,
)
from policies.hooks import ClientCaller, PolicyHooks, init_app
from policies.principal import Principal, PrincipalKind
from policies.problems import NotFound, PermissionDenied, Problem, TenantSuspended, Unauthenticated
from policies.registry import RouteEntry, UnguardedRouteError, ensure_every_route_guarded, route_policies
from policies.rules import Ownership, RoutePolicy, TokenKind

__all__ = [
    "BUILTIN_ROLE_PERMISSIONS",
    "PLATFORM_PERMISSIONS",
    "TENANT_PERMISSIONS",
    "BuiltinRole",
    "ClientCaller",
    "NotFound",
    "Ownership",
    "Permission",
    "PermissionDenied",
    "PolicyHooks",
    "Principal",
    "PrincipalKind",
    "Problem",
    "RouteEntry",
    "RoutePolicy",
    "TenantSuspended",
    "TokenKind",
    "Unauthenticated",
    "UnguardedRouteError",
    "authenticated",
    "current_principal",
    "ensure_every_route_guarded",
    "init_app",
    "policy_of",
    "public",
    "refresh_token_required",
    "require",
    "route_policies",
    "tenant_scoped",
]
