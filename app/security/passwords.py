"""Password hashing with argon2id (argon2-cffi), and the length rules checked before it."""

from __future__ import annotations

import secrets
import time

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 12  # OWASP ASVS 4.0 V2.1.1
MAX_PASSWORD_LENGTH = 1024  # bounds hashing work per request (ASVS V2.1.2 allows ≥ 64 chars)


def password_length_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    return None


class Passwords:
    """Hashes and verifies; a login for an unknown user verifies against a dummy hash
    so that it costs the same time as a wrong password (ASVS V2.2 / no enumeration)."""

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int, min_score: int = 3) -> None:
        # The zxcvbn score new passwords need (app.security.password_policy).
        self.min_score = min_score
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))
        started = time.perf_counter()
        self.verify(None, secrets.token_urlsafe(24))
        # What one verify costs here: the first guess of how long a failed login takes.
        self.verify_seconds = time.perf_counter() - started

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash, spends the same time and says False."""
        target = password_hash or self._dummy_hash
        try:
            matched = self._hasher.verify(target, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
