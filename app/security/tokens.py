"""Issuing and verifying JWTs through flask-jwt-extended, hardened per RFC 8725.

- Additional claims come from an allow-list and can never override a registered claim.
- Verification pins the algorithm to the key named by `kid`, requires every registered
  claim, and never takes a key from the token itself (`jku`, `x5u`, `jwk`, `x5c`).
- Each token string is parsed and verified once per request (flask-jwt-extended's own
  path decodes it three times).
- Access tokens are RFC 9068 JWTs (header `typ: at+jwt`, `aud`, `client_id`, and `scope` for
  integration clients). Refresh tokens carry `typ: rt+jwt` and an audience of their own
  (the refresh endpoint), so no RFC 9068 validator takes one for an access token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from flask import Flask, Response, current_app
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token
from flask_jwt_extended.config import config as jwt_config
from flask_jwt_extended.tokens import _encode_jwt

from app.errors import render_problem
from app.security import jwt_seams
from app.security.claim_budget import fit_claims
from app.security.jwt_seams import remember_verified_header
from app.security.keys import KeyRing
from app.security.token_cache import VerifiedToken, VerifiedTokenCache
from app.services import services
from app.settings import Settings
from policies.principal import VerifiedClaims
from policies.problems import Unauthenticated
from policies.resource_server import typ_media_type

# Claims flask-jwt-extended and PyJWT own; an additional claim must never replace one.
REGISTERED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "type", "fresh", "csrf"})
ADDITIONAL_CLAIMS = frozenset(
    {"tenant_id", "roles", "permissions", "sid", "client_id", "scope", "authz_ver", "authz_partial"}
)
# RFC 8725 §3.5 / §3.10: headers that would let a token choose its own key are refused.
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c"})
REQUIRED_CLAIMS = ["iss", "sub", "exp", "iat", "nbf", "jti", "type"]

# RFC 9068 §2.1: access tokens are typed `at+jwt`; refresh tokens get a type of their own.
ACCESS_TOKEN_TYP = "at+jwt"
REFRESH_TOKEN_TYP = "rt+jwt"
# Tokens signed before RFC 9068 typing carried PyJWT's default; they stay valid until they expire.
LEGACY_TYP = "JWT"
TYP_OF_KIND = {"access": ACCESS_TOKEN_TYP, "refresh": REFRESH_TOKEN_TYP}
# RFC 9068 §2.2: every access token names the client it was issued to; a user's login is ours.
FIRST_PARTY_CLIENT_ID = "authz-login"


@dataclass(frozen=True)
class TokenAudiences:
    """`aud` of each kind of token. Access tokens: AUTHZ_AUDIENCE, or the issuer when it is
    unset. Refresh tokens: the issuer's refresh endpoint, which no resource server is."""

    access: str
    refresh: str
    # What AUTHZ_AUDIENCE was, for the tokens signed before: both kinds carried it then.
    configured: str | None

    @classmethod
    def of(cls, settings: Settings) -> TokenAudiences:
        issuer = settings.issuer.rstrip("/")
        return cls(
            access=settings.audience or settings.issuer,
            refresh=f"{issuer}/auth/refresh",
            configured=settings.audience,
        )

    def accepts(self, kind: str, typ: Any, aud: Any) -> bool:
        """Whether a token of `kind` (its `type` claim) with this header `typ` and `aud` is ours."""
        audiences = aud if isinstance(aud, list) else [aud]
        media_type = typ_media_type(typ)
        if media_type is not None and media_type == typ_media_type(TYP_OF_KIND.get(kind)):
            return (self.access if kind == "access" else self.refresh) in audiences
        if typ is None or media_type == typ_media_type(LEGACY_TYP):  # signed before the change
            return aud in (None, self.configured) if self.configured is None else self.configured in audiences
        return False


@dataclass(frozen=True)
class TokenClaims:
    """What our tokens say beyond the registered claims."""

    tenant_id: uuid.UUID
    roles: Sequence[str]
    permissions: Sequence[str]
    authz_version: int
    session_id: uuid.UUID | None = None
    client_id: str | None = None

    def as_additional_claims(self) -> dict[str, Any]:
        # Under 8 KiB whatever the roles (or a client's scopes, which `scope` repeats).
        fitted = fit_claims(self.roles, self.permissions, scope=self.client_id is not None)
        claims: dict[str, Any] = {
            "tenant_id": str(self.tenant_id),
            "roles": fitted.roles,
            "permissions": fitted.permissions,
            "authz_ver": self.authz_version,
        }
        if fitted.partial:
            claims["authz_partial"] = True
        if self.session_id is not None:
            claims["sid"] = str(self.session_id)
        claims["client_id"] = self.client_id or FIRST_PARTY_CLIENT_ID
        if self.client_id is not None:  # an integration client: its granted scopes (RFC 9068 §2.2.3)
            claims["scope"] = " ".join(fitted.permissions)  # the same cap as `permissions`
        return safe_additional_claims(claims)


def safe_additional_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse any claim off the allow-list (flask-jwt-extended merges them over its own)."""
    unexpected = set(claims) - ADDITIONAL_CLAIMS
    overriding = set(claims) & REGISTERED_CLAIMS
    if unexpected or overriding:
        raise ValueError(f"refusing additional claims {sorted(unexpected | overriding)}")
    return dict(claims)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    refresh_jti: str
    expires_in: int

    def as_response(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }


def key_ring() -> KeyRing:
    return services().key_ring


def issue_pair(subject: str, claims: TokenClaims) -> TokenPair:
    key_ring().refresh()  # sign with the newest key once a rotation happened on disk
    extra = claims.as_additional_claims()
    access, _ = _signed(create_access_token, subject, extra)
    refresh, refresh_jti = _signed(create_refresh_token, subject, extra)
    ttl = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return TokenPair(access, refresh, refresh_jti, int(ttl.total_seconds()))


def issue_access_token(subject: str, claims: TokenClaims) -> tuple[str, str]:
    """A signed access token and its `jti`."""
    key_ring().refresh()
    return _signed(create_access_token, subject, claims.as_additional_claims())


def _signed(create: Callable[..., str], subject: str, extra: dict[str, Any]) -> tuple[str, str]:
    """Sign with the active key; the `jti` is chosen here, so that nobody has to verify the
    token just signed to learn it (flask-jwt-extended lets a claim override its own)."""
    jti = str(uuid.uuid4())
    token = create(
        identity=subject,
        additional_claims={**extra, "jti": jti},
        additional_headers={"kid": key_ring().active.kid},
    )
    return token, jti


class HardenedJWTManager(JWTManager):
    """flask-jwt-extended with one strict decode in place of its three lenient ones,
    and a cache so that a token string already verified is not verified again."""

    def __init__(self, app: Flask | None = None, audiences: TokenAudiences | None = None) -> None:
        self.verified = VerifiedTokenCache()
        self.audiences = audiences
        super().__init__(app)

    def _encode_jwt_from_config(
        self,
        identity: Any,
        token_type: str,
        claims: dict[str, Any] | None = None,
        fresh: Any = False,
        expires_delta: Any = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """flask-jwt-extended's encoding, with each kind's own `typ` and `aud`."""
        if self.audiences is None:
            raise RuntimeError("token audiences are not configured")
        header_overrides = {**self._jwt_additional_header_callback(identity), **(headers or {})}
        header_overrides["typ"] = TYP_OF_KIND[token_type]
        claim_overrides = {**self._user_claims_callback(identity), **(claims or {})}
        if expires_delta is None:
            expires_delta = (
                jwt_config.access_expires if token_type == "access" else jwt_config.refresh_expires
            )
        return _encode_jwt(
            algorithm=jwt_config.algorithm,
            audience=self.audiences.access if token_type == "access" else self.audiences.refresh,
            claim_overrides=claim_overrides,
            csrf=jwt_config.cookie_csrf_protect,
            expires_delta=expires_delta,
            fresh=fresh,
            header_overrides=header_overrides,
            identity=self._user_identity_callback(identity),
            identity_claim_key=jwt_config.identity_claim_key,
            issuer=jwt_config.encode_issuer,
            json_encoder=jwt_config.json_encoder,
            secret=self._encode_key_callback(identity),
            token_type=token_type,
            nbf=jwt_config.encode_nbf,
        )

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        ring = key_ring()
        ring.refresh()  # at most one stat a second: a pruned or removed key stops verifying
        leeway = current_app.config["JWT_DECODE_LEEWAY"]
        if not allow_expired:
            cached = self.verified.get(encoded_token, leeway, ring.kids)
            if cached is not None:
                remember_verified_header(encoded_token, cached.header)
                return cached.claims
        header, claims = _verify(encoded_token, ring, self.audiences)
        entry = VerifiedToken(header, VerifiedClaims(claims), header["kid"])
        self.verified.put(encoded_token, entry)
        remember_verified_header(encoded_token, header)
        return entry.claims


def _verify(
    encoded_token: str, ring: KeyRing, audiences: TokenAudiences | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a token string from scratch; raises PyJWT's errors."""
    header = jwt.get_unverified_header(encoded_token)
    if FORBIDDEN_HEADERS & set(header):
        raise jwt.InvalidTokenError("the token names its own key")
    key = ring.verification_key(header.get("kid"))
    if key is None:
        # A key rotated in by another worker or instance. Look again whoever reloaded the
        # ring: with threads, another thread may have done it a moment ago (then refresh
        # finds nothing new and returns False, yet the key is there now).
        ring.refresh(force=True)
        key = ring.verification_key(header.get("kid"))
    if key is None:
        raise jwt.InvalidTokenError("unknown key id")
    if audiences is None:
        raise RuntimeError("token audiences are not configured")
    config = current_app.config
    try:
        claims = jwt.decode(
            encoded_token,
            key.verification_material,
            # Pinned to the key's own algorithm: no `none`, no HS256 with a public key.
            algorithms=[key.algorithm.value],
            issuer=config["JWT_DECODE_ISSUER"],
            leeway=config["JWT_DECODE_LEEWAY"],
            # `aud` is checked below against the token's own kind (access or refresh).
            options={"require": REQUIRED_CLAIMS, "verify_aud": False, "verify_sub": True},
        )
    except jwt.ExpiredSignatureError as exc:
        # flask-jwt-extended's handler reads these two attributes.
        exc.jwt_header = header  # type: ignore[attr-defined]  # set for flask-jwt-extended
        exc.jwt_data = {}  # type: ignore[attr-defined]  # set for flask-jwt-extended
        raise
    if not audiences.accepts(str(claims.get("type")), header.get("typ"), claims.get("aud")):
        raise jwt.InvalidAudienceError("the token's type or audience is not ours")
    return header, claims


def configure_jwt(app: Flask, settings: Settings, ring: KeyRing) -> JWTManager:
    app.config.update(
        JWT_ALGORITHM=ring.active.algorithm.value,
        JWT_DECODE_ALGORITHMS=ring.algorithms,
        JWT_TOKEN_LOCATION=["headers"],
        JWT_COOKIE_CSRF_PROTECT=False,  # tokens travel in headers only: no csrf claim
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=settings.access_token_ttl),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=settings.refresh_token_ttl),
        JWT_ENCODE_ISSUER=settings.issuer,
        JWT_DECODE_ISSUER=settings.issuer,
        JWT_ENCODE_NBF=True,
        JWT_DECODE_LEEWAY=settings.token_leeway,
        JWT_VERIFY_SUB=True,
    )
    jwt_seams.install()
    manager = HardenedJWTManager(app, TokenAudiences.of(settings))
    manager.encode_key_loader(lambda _identity: key_ring().active.signing_material)
    _register_token_error_loaders(manager)
    return manager


def _register_token_error_loaders(manager: JWTManager) -> None:
    """Every token failure is a 401 problem with WWW-Authenticate (RFC 6750 §3.1), never 422."""

    def invalid(detail: str, code: str = "token_invalid") -> Response:
        return render_problem(Unauthenticated(detail, code=code))

    manager.unauthorized_loader(
        lambda _reason: render_problem(
            Unauthenticated("An access token is required.", code="token_missing", error=None)
        )
    )
    manager.invalid_token_loader(lambda _reason: invalid("The token is invalid."))
    manager.expired_token_loader(lambda _h, _d: invalid("The token has expired.", "token_expired"))
    manager.revoked_token_loader(lambda _h, _d: invalid("The token has been revoked.", "token_revoked"))
    manager.token_verification_failed_loader(lambda _h, _d: invalid("The token is invalid."))
    manager.user_lookup_error_loader(lambda _h, _d: invalid("The token's subject no longer exists."))
    manager.needs_fresh_token_loader(lambda _h, _d: invalid("A fresh token is required."))
