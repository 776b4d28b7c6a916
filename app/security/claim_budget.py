"""Keeping every access token under 8 KiB whatever the roles (headers and proxies commonly
refuse larger ones: nginx's default `large_client_header_buffers` is 8 KiB).

A token carries its roles and permissions in full while they fit `CLAIM_BUDGET_BYTES`.
Beyond, it carries only the built-in roles and built-in permissions held (a bounded set:
our own routes need nothing else) and `authz_partial: true`, which tells a resource server
that application permissions are left out: ask the decision API (`POST
/access/v1/evaluation`), which always answers from the state now.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

from policies.catalog import BUILTIN_NAMES
from policies.derivation import BUILTIN_ROLE_NAMES

# JSON bytes of `roles` + `permissions`; base64url adds a third, the rest of the token ~1.2 KiB.
CLAIM_BUDGET_BYTES = 4096


@dataclass(frozen=True)
class FittedClaims:
    roles: list[str]
    permissions: list[str]
    partial: bool


def fit_claims(roles: Collection[str], permissions: Collection[str], *, scope: bool = False) -> FittedClaims:
    """`scope`: the permissions are carried a second time, as a client's RFC 9068 `scope`
    string, and count twice against the budget."""
    full_roles, full_permissions = sorted(roles), sorted(permissions)
    size = len(json.dumps(full_roles)) + len(json.dumps(full_permissions))
    if scope:
        size += len(json.dumps(" ".join(full_permissions)))
    if size <= CLAIM_BUDGET_BYTES:
        return FittedClaims(full_roles, full_permissions, partial=False)
    return FittedClaims(
        [r for r in full_roles if r in BUILTIN_ROLE_NAMES],
        [p for p in full_permissions if p in BUILTIN_NAMES],
        partial=True,
    )
