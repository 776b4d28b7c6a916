"""Signing keys: one active key signs, every key in the set verifies, each named by `kid`.

Asymmetric keys live as PEM files named `<kid>.pem` in the key directory; the file
`active` names the signing one. HS256 uses the shared secret as a single key.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from app.settings import SettingsError, SigningAlgorithm

MIN_RSA_BITS = 2048  # NIST SP 800-57 / RFC 7518 §3.3
ACTIVE_FILE = "active"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: SigningAlgorithm
    signing_material: Any
    verification_material: Any
    public_jwk: dict[str, Any] | None


class KeyRing:
    def __init__(self, active: SigningKey, verification: dict[str, SigningKey]) -> None:
        self.active = active
        self._by_kid = dict(verification)
        self._by_kid[active.kid] = active

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._by_kid)

    def verification_key(self, kid: object) -> SigningKey | None:
        return self._by_kid.get(kid) if isinstance(kid, str) else None

    @property
    def algorithms(self) -> list[str]:
        return sorted({key.algorithm.value for key in self._by_kid.values()})

    def public_jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [k.public_jwk for k in self._by_kid.values() if k.public_jwk is not None]}


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
        return json.loads(RSAAlgorithm.to_jwk(public))
    if isinstance(public, ec.EllipticCurvePublicKey):
        return json.loads(ECAlgorithm.to_jwk(public))
    return json.loads(OKPAlgorithm.to_jwk(public))


def asymmetric_key(private_key: PrivateKey, algorithm: SigningAlgorithm) -> SigningKey:
    _check_key_fits(private_key, algorithm)
    jwk = _public_jwk(private_key)
    kid = jwk_thumbprint(jwk)
    jwk.update({"kid": kid, "alg": algorithm.value, "use": "sig"})
    return SigningKey(kid, algorithm, private_key, private_key.public_key(), jwk)


def symmetric_key(secret: str) -> SigningKey:
    # The kid names the secret without revealing it: a hash of a ≥256-bit random value.
    kid = "hs-" + b64url(hashlib.sha256(b"authz-kid:" + secret.encode()).digest())[:16]
    return SigningKey(kid, SigningAlgorithm.HS256, secret, secret, None)


def _check_key_fits(private_key: PrivateKey, algorithm: SigningAlgorithm) -> None:
    if algorithm is SigningAlgorithm.RS256:
        ok = isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size >= MIN_RSA_BITS
    elif algorithm is SigningAlgorithm.ES256:
        ok = isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(
            private_key.curve, ec.SECP256R1
        )
    else:
        ok = isinstance(private_key, ed25519.Ed25519PrivateKey)
    if not ok:
        raise SettingsError(f"a key in the key directory does not fit {algorithm} (or is too short)")


def generate_private_key(algorithm: SigningAlgorithm) -> PrivateKey:
    if algorithm is SigningAlgorithm.RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    if algorithm is SigningAlgorithm.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def write_private_key(key_dir: Path, private_key: PrivateKey, algorithm: SigningAlgorithm) -> str:
    """Store a new key and make it the active one; returns its kid."""
    key = asymmetric_key(private_key, algorithm)
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = key_dir / f"{key.kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    (key_dir / ACTIVE_FILE).write_text(key.kid + "\n")
    return key.kid


def _create_first_key(key_dir: Path, algorithm: SigningAlgorithm) -> None:
    """Generate the first key once, even when several workers start at the same moment."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(key_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (key_dir / ACTIVE_FILE).exists():
            write_private_key(key_dir, generate_private_key(algorithm), algorithm)


def load_key_ring(key_dir: Path, algorithm: SigningAlgorithm, *, create: bool) -> KeyRing:
    """Every `<kid>.pem` in `key_dir`; with `create`, a first key is generated if none exists."""
    if create:
        _create_first_key(key_dir, algorithm)
    try:
        active_kid = (key_dir / ACTIVE_FILE).read_text().strip()
    except FileNotFoundError:
        raise SettingsError(f"no signing key: {key_dir / ACTIVE_FILE} is missing") from None
    keys: dict[str, SigningKey] = {}
    for path in sorted(key_dir.glob("*.pem")):
        private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        key = asymmetric_key(private_key, algorithm)  # type: ignore[arg-type]
        keys[key.kid] = key
    if active_kid not in keys:
        raise SettingsError(f"the active key {active_kid!r} is not in {key_dir}")
    return KeyRing(keys[active_kid], keys)
