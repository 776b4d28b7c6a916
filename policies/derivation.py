"""Effective permissions: the one derivation that login, the token endpoint, the decision API
and the grant guards all call (STYLE.md, "One derivation per rule").

Built-in roles are derived from the catalog when read, never stored as rows: `admin` holds
every tenant permission (application ones included, whenever they were defined), `member`
its built-in set plus the application permissions marked `member`, `platform-admin`
everything. Custom role grants and client scopes count only while their permission is in
the catalog, and platform permissions never take effect outside the platform tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from policies.catalog import (
    BUILTIN_NAMES,
    BUILTIN_ROLE_PERMISSIONS,
    PLATFORM_PERMISSIONS,
    TENANT_PERMISSIONS,
    BuiltinRole,
    Permission,
)

_PLATFORM = frozenset(str(p) for p in PLATFORM_PERMISSIONS)
_OWNER_OVERRIDES: Mapping[str, str] = MappingProxyType(
    {Permission.PROJECTS_WRITE.value: Permission.PROJECTS_MANAGE.value}
)


@dataclass(frozen=True)
class ApplicationEntry:
    """What the derivation needs of an application permission."""

    name: str
    owner_override: str | None = None
    member: bool = False
    description: str = ""


@dataclass(frozen=True)
class Catalog:
    """The permission catalog now: the built-in members and the application permissions."""

    application: Mapping[str, ApplicationEntry] = field(default_factory=dict)
    version: int = 0  # the revocation epoch it was loaded under (0: not cached)

    @property
    def names(self) -> frozenset[str]:
        return BUILTIN_NAMES | frozenset(self.application)

    def knows(self, name: str) -> bool:
        return name in BUILTIN_NAMES or name in self.application

    def tenant_permissions(self) -> frozenset[str]:
        return frozenset(str(p) for p in TENANT_PERMISSIONS) | frozenset(self.application)

    def member_permissions(self) -> frozenset[str]:
        builtin = frozenset(str(p) for p in BUILTIN_ROLE_PERMISSIONS[BuiltinRole.MEMBER])
        return builtin | frozenset(n for n, e in self.application.items() if e.member)

    def owner_override(self, name: str) -> str | None:
        """The permission that lifts the ownership rule for `name`, if any."""
        entry = self.application.get(name)
        if entry is not None:
            return entry.owner_override
        return _OWNER_OVERRIDES.get(name)

    def builtin_role_permissions(self, role: str) -> frozenset[str]:
        if role == BuiltinRole.ADMIN:
            return self.tenant_permissions()
        if role == BuiltinRole.MEMBER:
            return self.member_permissions()
        if role == BuiltinRole.PLATFORM_ADMIN:
            return self.names
        return frozenset()


BUILTIN_ROLE_NAMES = frozenset(r.value for r in BuiltinRole)


def effective_permissions(
    catalog: Catalog,
    *,
    builtin_roles: Iterable[str] = (),
    granted: Iterable[str] = (),
    in_platform_tenant: bool,
    bound: frozenset[str] | None = None,
) -> frozenset[str]:
    """What a principal may do now.

    `builtin_roles` are the names of the built-in roles held (derived from the catalog);
    `granted` the custom roles' grants or a client's scopes (kept while in the catalog).
    `bound`, when given, caps the result: a client's effective set is its scopes bounded by
    its owner's effective set now (`bound=effective_permissions(...owner...)`).
    """
    permissions: set[str] = set()
    for role in builtin_roles:
        permissions |= catalog.builtin_role_permissions(role)
    permissions.update(name for name in granted if catalog.knows(name))
    if not in_platform_tenant:
        # Defence in depth: platform permissions never take effect in an ordinary tenant.
        permissions -= _PLATFORM
    if bound is not None:
        permissions &= bound
    return frozenset(permissions)
