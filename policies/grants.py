"""Escalation guards: nobody grants what they do not hold (OWASP API5, ASVS V4.1.3).

Used wherever permissions change hands: creating or editing a role, assigning roles,
creating an integration client with scopes.
"""

from __future__ import annotations

from collections.abc import Iterable

from policies.catalog import PLATFORM_PERMISSIONS
from policies.derivation import Catalog
from policies.problems import FieldError, PermissionDenied, ValidationFailed

_PLATFORM = frozenset(str(p) for p in PLATFORM_PERMISSIONS)


def ensure_grantable(
    held: frozenset[str],
    permissions: Iterable[str],
    *,
    catalog: Catalog,
    in_platform_tenant: bool,
    field: str,
) -> None:
    """Refuse names outside the catalog and platform permissions outside the platform tenant
    (422, naming `field`), and any permission the granter does not hold themselves (403,
    naming what is missing). `held` comes from policies.derivation, never from old claims."""
    wanted = frozenset(str(p) for p in permissions)
    unknown = sorted(name for name in wanted if not catalog.knows(name))
    if unknown:
        raise ValidationFailed([FieldError(field, "not in the permission catalog (see GET /permissions)")])
    if not in_platform_tenant and wanted & _PLATFORM:
        raise ValidationFailed(
            [FieldError(field, "platform permissions can only be granted in the platform tenant")]
        )
    missing = wanted - held
    if missing:
        raise PermissionDenied(
            missing,
            detail="You cannot grant permissions you do not hold: " + ", ".join(sorted(missing)) + ".",
        )
