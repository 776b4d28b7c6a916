"""The Principal: who is calling, built once from verified claims."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from policies.catalog import parse_permissions
from policies.problems import Unauthenticated

# RFC 8725 §3.10 asks that every claim a decision depends on is required, not defaulted.
REQUIRED_CLAIMS = (
    "iss",
    "sub",
    "exp",
    "iat",
    "nbf",
    "jti",
    "type",
    "tenant_id",
    "roles",
    "permissions",
    "authz_ver",
)


class VerifiedClaims(dict[str, Any]):
    """The claims of a verified token, shared by every request that presents the same token
    string (app.security.token_cache): read-only, and carrying the Principal built from them
    once (`principal_of`), so a repeated token costs no claim parsing."""

    __slots__ = ("principal",)

    def __init__(self, claims: Mapping[str, Any]) -> None:
        super().__init__(claims)
        self.principal: Principal | None = None

    def _read_only(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise TypeError("verified claims are read-only; copy them with dict(claims)")

    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = __ior__ = _read_only


class PrincipalKind(enum.StrEnum):
    USER = "user"
    CLIENT = "client"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    subject: str
    tenant_id: uuid.UUID
    roles: tuple[str, ...]
    # Built-in `Permission` members and application permission names (plain strings).
    permissions: frozenset[str]
    token_id: str
    token_type: str
    issued_at: int
    authz_version: int
    session_id: uuid.UUID | None = None
    # The token's `permissions` claim left application permissions out to stay small
    # (app.security.tokens); ask the catalog or the decision API for those.
    permissions_partial: bool = False

    def holds(self, permission: str) -> bool:
        return permission in self.permissions

    def missing(self, required: Iterable[str]) -> frozenset[str]:
        return frozenset(required) - self.permissions

    @property
    def subject_uuid(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            return None

    @classmethod
    def client_by_credentials(
        cls, client_id: str, tenant_id: uuid.UUID, permissions: Iterable[str]
    ) -> Principal:
        """A client that authenticated in this request with its id and secret (RFC 6749
        §2.3.1, as at introspection) rather than with a token; `permissions` are its
        effective scopes now."""
        return cls(
            kind=PrincipalKind.CLIENT,
            subject=client_id,
            tenant_id=tenant_id,
            roles=(),
            permissions=frozenset(permissions),
            token_id="",
            token_type="client_credentials",  # noqa: S106 (a kind of credential, not a secret)
            issued_at=0,
            authz_version=0,
        )

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        """Build from verified claims; anything missing or malformed is a 401, never a 500."""
        if any(name not in claims for name in REQUIRED_CLAIMS):
            raise Unauthenticated("The token lacks a required claim.")
        permissions = parse_permissions(claims["permissions"])
        roles = claims["roles"]
        subject = claims["sub"]
        if (
            permissions is None
            or not isinstance(roles, list)
            or not all(isinstance(r, str) for r in roles)
            or not isinstance(subject, str)
            or not isinstance(claims["jti"], str)
            or not isinstance(claims["iat"], int)
            or not isinstance(claims["authz_ver"], int)
            or claims["type"] not in ("access", "refresh")
        ):
            raise Unauthenticated("The token carries a malformed claim.")
        try:
            tenant_id = uuid.UUID(str(claims["tenant_id"]))
            session_id = uuid.UUID(str(claims["sid"])) if "sid" in claims else None
        except ValueError:
            raise Unauthenticated("The token carries a malformed claim.") from None
        partial = claims.get("authz_partial", False)
        if not isinstance(partial, bool):
            raise Unauthenticated("The token carries a malformed claim.")
        kind = PrincipalKind.USER if session_id is not None else PrincipalKind.CLIENT
        if kind is PrincipalKind.CLIENT and claims.get("client_id") != subject:
            raise Unauthenticated("The token carries a malformed claim.")
        return cls(
            kind=kind,
            subject=subject,
            tenant_id=tenant_id,
            roles=tuple(roles),
            permissions=permissions,
            token_id=claims["jti"],
            token_type=claims["type"],
            issued_at=claims["iat"],
            authz_version=claims["authz_ver"],
            session_id=session_id,
            permissions_partial=partial,
        )


def principal_of(claims: Mapping[str, Any]) -> Principal:
    """The Principal of verified `claims`: built once per verified token string."""
    if isinstance(claims, VerifiedClaims):
        principal = claims.principal
        if principal is None:
            principal = claims.principal = Principal.from_claims(claims)
        return principal
    return Principal.from_claims(claims)
