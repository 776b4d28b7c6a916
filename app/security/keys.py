"""Signing keys: one active key signs, every key in the set verifies, each named by `kid`
(its RFC 7638 thumbprint). HS256 uses the shared secret as a single key.
Where keys are stored and how they rotate: app.security.key_store."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any, TypeGuard

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from app.settings import SettingsError, SigningAlgorithm

MIN_RSA_BITS = 2048  # NIST SP 800-57 / RFC 7518 §3.3
# How long a downstream verifier (or a cache in front of it) may keep the JWKS. A key is
# staged (published) at least this long before it signs and retired keys stay published until
# their tokens expire, so a cached copy always holds the key a valid token names; a withdrawn
# (pruned) key, on the other hand, can outlive its removal downstream by up to this much.
JWKS_MAX_AGE = 300
JWKS_STALE_WHILE_REVALIDATE = 60
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: SigningAlgorithm
    signing_material: Any
    verification_material: Any
    public_jwk: dict[str, Any] | None


@dataclass(frozen=True)
class _Keys:
    active: SigningKey
    by_kid: dict[str, SigningKey]
    kids: frozenset[str]


class KeyRing:
    def __init__(self, active: SigningKey, verification: dict[str, SigningKey]) -> None:
        by_kid = {**verification, active.kid: active}
        self._keys = _Keys(active, by_kid, frozenset(by_kid))

    def replace(self, other: KeyRing) -> None:
        """Take another ring's keys (after a rotation on disk) in one assignment, so a thread
        reading the ring meanwhile sees the old set or the new one, never a mix."""
        self._keys = other._keys

    @property
    def active(self) -> SigningKey:
        return self._keys.active

    @property
    def kids(self) -> frozenset[str]:
        return self._keys.kids

    def refresh(self, *, force: bool = False) -> bool:
        """Reload from where the keys are kept; False when there is nothing to reload."""
        return False

    def verification_key(self, kid: object) -> SigningKey | None:
        return self._keys.by_kid.get(kid) if isinstance(kid, str) else None

    @property
    def algorithms(self) -> list[str]:
        return sorted({key.algorithm.value for key in self._keys.by_kid.values()})

    def public_jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [k.public_jwk for k in self._keys.by_kid.values() if k.public_jwk is not None]}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: SHA-256 of the required members, sorted, no whitespace."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())


def _public_jwk(private_key: PrivateKey) -> dict[str, Any]:
    public = private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        text = RSAAlgorithm.to_jwk(public)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        text = ECAlgorithm.to_jwk(public)
    else:
        text = OKPAlgorithm.to_jwk(public)
    jwk: dict[str, Any] = json.loads(text)
    return jwk


def asymmetric_key(private_key: PrivateKeyTypes, algorithm: SigningAlgorithm) -> SigningKey:
    if not _fits(private_key, algorithm):
        raise SettingsError(f"a key in the key directory does not fit {algorithm} (or is too short)")
    jwk = _public_jwk(private_key)
    # RFC 7517 §4.3: `use` and `key_ops` should not be used together; PyJWT adds key_ops.
    jwk.pop("key_ops", None)
    kid = jwk_thumbprint(jwk)
    jwk.update({"kid": kid, "alg": algorithm.value, "use": "sig"})
    return SigningKey(kid, algorithm, private_key, private_key.public_key(), jwk)


def symmetric_key(secret: str) -> SigningKey:
    # The kid names the secret without revealing it: a hash of a ≥256-bit random value.
    kid = "hs-" + b64url(hashlib.sha256(b"authz-kid:" + secret.encode()).digest())[:16]
    return SigningKey(kid, SigningAlgorithm.HS256, secret, secret, None)


def _fits(private_key: PrivateKeyTypes, algorithm: SigningAlgorithm) -> TypeGuard[PrivateKey]:
    if algorithm is SigningAlgorithm.RS256:
        return isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size >= MIN_RSA_BITS
    if algorithm is SigningAlgorithm.ES256:
        return isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(
            private_key.curve, ec.SECP256R1
        )
    return isinstance(private_key, ed25519.Ed25519PrivateKey)


def generate_private_key(algorithm: SigningAlgorithm) -> PrivateKey:
    if algorithm is SigningAlgorithm.RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    if algorithm is SigningAlgorithm.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()
