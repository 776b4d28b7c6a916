"""The cost of verifying (and signing) a token with each asymmetric algorithm we support,
measured side by side with PyJWT in one process: the basis for RS256 as the default.

    .venv/bin/python -m benchmarks.jwt_algorithms
"""

from __future__ import annotations

import time
from functools import partial

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

CLAIMS = {
    "iss": "https://authz.example",
    "sub": "7d3f6f2e-2d0e-4a7e-9d1e-0c5b8f0c1a2b",
    "tenant_id": "0b8e9c5a-4f1d-4c62-9a53-1f7c3e2d4b6a",
    "roles": ["member"],
    "permissions": ["projects:read", "projects:write", "roles:read", "tenant:read", "users:read"],
    "type": "access",
    "exp": 4_000_000_000,
    "iat": 1_700_000_000,
    "nbf": 1_700_000_000,
    "jti": "4c1a7e0e-58b5-4bb9-bc0b-2d3d2c8f6e11",
}
KEYS = {
    "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate(),
}


def per_call_microseconds(action, rounds: int) -> float:
    for _ in range(rounds // 10):
        action()
    started = time.perf_counter()
    for _ in range(rounds):
        action()
    return (time.perf_counter() - started) / rounds * 1e6


def main(rounds: int = 3000) -> None:
    print(f"{'algorithm':<8} {'verify µs':>10} {'sign µs':>10} {'token bytes':>12}")
    for algorithm, private_key in KEYS.items():
        token = jwt.encode(CLAIMS, private_key, algorithm=algorithm)
        public_key = private_key.public_key()
        verify = partial(jwt.decode, token, public_key, algorithms=[algorithm])
        sign = partial(jwt.encode, CLAIMS, private_key, algorithm=algorithm)
        verify_us = per_call_microseconds(verify, rounds)
        sign_us = per_call_microseconds(sign, rounds // 10)
        print(f"{algorithm:<8} {verify_us:>10.0f} {sign_us:>10.0f} {len(token):>12}")


if __name__ == "__main__":
    main()
