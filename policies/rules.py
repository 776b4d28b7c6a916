"""Route policies as data: what a route requires, declared once, read by everyone.

The decorators enforce these, the start-up check refuses routes without one, the CLI
prints them and the OpenAPI document shows them (like oslo.policy's registered rules).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.catalog import Permission
from policies.principal import PrincipalKind

EVERY_KIND = frozenset(PrincipalKind)


class TokenKind(enum.StrEnum):
    NONE = "none"
    ACCESS = "access"
    REFRESH = "refresh"


# Loads the owner of the target within the path's tenant, raising NotFound when absent.
OwnerLoader = Callable[[uuid.UUID, Mapping[str, Any]], uuid.UUID | None]


@dataclass(frozen=True)
class Ownership:
    """The caller must own the target, unless they hold `override`."""

    load_owner: OwnerLoader
    override: Permission


@dataclass(frozen=True)
class RoutePolicy:
    token: TokenKind
    permissions: frozenset[Permission] = frozenset()
    tenant_param: str | None = None
    ownership: Ownership | None = None
    # Body fields that need a further permission when present: (field, permission) pairs.
    field_permissions: tuple[tuple[str, Permission], ...] = ()
    # Which principals the route admits: a token of another kind is a 403 (e.g. a client has
    # no session to log out nor password to change).
    principals: frozenset[PrincipalKind] = EVERY_KIND
    # Or a client whose effective scopes hold this permission, authenticating in the request
    # itself (RFC 6749 §2.3: HTTP Basic or the body) or presenting its own access token (RFC
    # 7662 §2.1 allows either); any other bearer token is held to `permissions`.
    client_scope: Permission | None = None
    reason: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Unknown or repeated query parameters are a 422 and a JSON body with a duplicated key a
    # 400 (API.md conventions: no silent guess, no parser differential with a proxy). A route
    # whose own standard says to ignore unknown fields (AuthZEN's decision API) opts out here.
    strict_input: bool = True

    @property
    def is_public(self) -> bool:
        return self.token is TokenKind.NONE and self.client_scope is None

    @property
    def platform_bypass(self) -> Permission:
        """The platform permission that reaches this route in any tenant (API.md, platform tenant)."""
        if self.permissions and all(p.is_read for p in self.permissions):
            return Permission.PLATFORM_READ
        return Permission.PLATFORM_WRITE

    def describe(self) -> str:
        if self.is_public:
            return f"public ({self.reason})" if self.reason else "public"
        parts = [f"{self.token.value} token"]
        if self.principals != EVERY_KIND:
            parts[0] += " of a " + " or ".join(sorted(self.principals))
        if self.permissions:
            parts.append(" + ".join(sorted(self.permissions)))
        if self.client_scope:
            parts.append(
                f"or a client (its credentials or its own access token) with scope {self.client_scope}"
            )
        if self.tenant_param:
            parts.append(f"own tenant <{self.tenant_param}> (or {self.platform_bypass})")
        if self.ownership:
            parts.append(f"owner (or {self.ownership.override})")
        parts.extend(f"field '{name}' needs {permission}" for name, permission in self.field_permissions)
        return "; ".join(parts)

    def openapi_extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {
            "x-permissions": sorted(self.permissions),
            "x-policy": self.describe(),
        }
        if self.tenant_param:
            ext["x-tenant-scoped"] = True
            ext["x-platform-permission"] = str(self.platform_bypass)
        if self.ownership:
            ext["x-ownership-override"] = str(self.ownership.override)
        if self.principals != EVERY_KIND:
            ext["x-principals"] = sorted(self.principals)
        if self.client_scope:
            ext["x-client-scope"] = str(self.client_scope)
        if not self.strict_input:
            ext["x-lenient-input"] = True
        if self.field_permissions:
            ext["x-field-permissions"] = {
                name: str(permission) for name, permission in self.field_permissions
            }
        return ext
