"""Escalation guards: nobody grants what they do not hold (OWASP API5, ASVS V4.1.3).

Used wherever permissions change hands: creating or editing a role, assigning roles,
creating an integration client with scopes.
"""

from __future__ import annotations

from collections.abc import Iterable

from policies.catalog import PLATFORM_PERMISSIONS, Permission
from policies.principal import Principal
from policies.problems import FieldError, PermissionDenied, ValidationFailed


def ensure_grantable(
    granter: Principal, permissions: Iterable[Permission], *, in_platform_tenant: bool, field: str
) -> None:
    """Refuse platform permissions outside the platform tenant (422, naming `field`), and any
    permission the granter does not hold themselves (403, naming what is missing)."""
    wanted = frozenset(permissions)
    if not in_platform_tenant and wanted & PLATFORM_PERMISSIONS:
        raise ValidationFailed(
            [FieldError(field, "platform permissions can only be granted in the platform tenant")]
        )
    missing = wanted - granter.permissions
    if missing:
        raise PermissionDenied(
            missing,
            detail="You cannot grant permissions you do not hold: " + ", ".join(sorted(missing)) + ".",
        )
