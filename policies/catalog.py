"""The permission catalog and the built-in roles: data, in one place.

Route modules name permissions through `Permission`; a typo fails at import time.
A deployer extends the catalog by adding members here (and a description).
"""

from __future__ import annotations

import enum
from types import MappingProxyType


class Permission(enum.StrEnum):
    TENANT_READ = "tenant:read"
    TENANT_WRITE = "tenant:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    ROLES_READ = "roles:read"
    ROLES_WRITE = "roles:write"
    CLIENTS_READ = "clients:read"
    CLIENTS_WRITE = "clients:write"
    AUDIT_READ = "audit:read"
    PROJECTS_READ = "projects:read"
    PROJECTS_WRITE = "projects:write"
    # Extension of the contract: change or delete any project, not only one's own.
    PROJECTS_MANAGE = "projects:manage"
    TOKENS_INTROSPECT = "tokens:introspect"
    PLATFORM_READ = "platform:read"
    PLATFORM_WRITE = "platform:write"

    @property
    def is_platform(self) -> bool:
        return self.value.startswith("platform:")

    @property
    def is_read(self) -> bool:
        return self.value.endswith(":read")


DESCRIPTIONS: MappingProxyType[Permission, str] = MappingProxyType(
    {
        Permission.TENANT_READ: "Read the tenant's profile.",
        Permission.TENANT_WRITE: "Rename the tenant.",
        Permission.USERS_READ: "List and read the tenant's users.",
        Permission.USERS_WRITE: "Create, change, deactivate and delete users; assign roles.",
        Permission.ROLES_READ: "List and read roles.",
        Permission.ROLES_WRITE: "Create, change and delete custom roles.",
        Permission.CLIENTS_READ: "List integration clients.",
        Permission.CLIENTS_WRITE: "Create, rotate and revoke integration clients.",
        Permission.AUDIT_READ: "Read the tenant's audit log.",
        Permission.PROJECTS_READ: "List and read projects.",
        Permission.PROJECTS_WRITE: "Create projects; change and delete the projects one owns.",
        Permission.PROJECTS_MANAGE: "Change and delete any project of the tenant.",
        Permission.TOKENS_INTROSPECT: "Introspect tokens of the tenant (RFC 7662).",
        Permission.PLATFORM_READ: "Read anything in any tenant (platform operators only).",
        Permission.PLATFORM_WRITE: "Write anything in any tenant; create and suspend tenants.",
    }
)

PLATFORM_PERMISSIONS = frozenset(p for p in Permission if p.is_platform)
TENANT_PERMISSIONS = frozenset(p for p in Permission if not p.is_platform)


class BuiltinRole(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    PLATFORM_ADMIN = "platform-admin"


BUILTIN_ROLE_PERMISSIONS: MappingProxyType[BuiltinRole, frozenset[Permission]] = MappingProxyType(
    {
        BuiltinRole.ADMIN: TENANT_PERMISSIONS,
        BuiltinRole.MEMBER: frozenset(
            {
                Permission.TENANT_READ,
                Permission.USERS_READ,
                Permission.ROLES_READ,
                Permission.PROJECTS_READ,
                Permission.PROJECTS_WRITE,
            }
        ),
        BuiltinRole.PLATFORM_ADMIN: frozenset(Permission),
    }
)

BUILTIN_ROLE_DESCRIPTIONS: MappingProxyType[BuiltinRole, str] = MappingProxyType(
    {
        BuiltinRole.ADMIN: "Every tenant permission.",
        BuiltinRole.MEMBER: "Read the tenant; work on one's own projects.",
        BuiltinRole.PLATFORM_ADMIN: "Every permission, in every tenant.",
    }
)

TENANT_BUILTIN_ROLES = (BuiltinRole.ADMIN, BuiltinRole.MEMBER)
PLATFORM_BUILTIN_ROLES = (BuiltinRole.PLATFORM_ADMIN, BuiltinRole.ADMIN, BuiltinRole.MEMBER)


def parse_permissions(values: object) -> frozenset[Permission] | None:
    """Permissions from an untrusted list of names, or None when anything is malformed."""
    if not isinstance(values, list):
        return None
    try:
        return frozenset(Permission(v) for v in values)
    except (ValueError, TypeError):
        return None
