"""The key directory: `<kid>.pem` private keys, `active` naming the signing one, and
`<kid>.retired` holding when a key stopped signing.

`flask --app app keys stage` publishes the next key (in the JWKS, not yet signing); `keys rotate`
makes the staged key (or a new one) active without logging anyone out:
retired keys keep verifying until every token they signed has expired, then
`keys prune` removes them (and they leave the JWKS). Running workers notice a rotation
within a second (they check the directory before signing and on an unknown `kid`).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from app.security.keys import KeyRing, PrivateKey, SigningKey, asymmetric_key, generate_private_key
from app.settings import SettingsError, SigningAlgorithm

ACTIVE_FILE = "active"
RETIRED_SUFFIX = ".retired"
RELOAD_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class StoredKey:
    kid: str
    active: bool
    retired_at: datetime | None


class KeyStore:
    def __init__(self, key_dir: Path, algorithm: SigningAlgorithm, max_token_seconds: int) -> None:
        self.key_dir = key_dir
        self.algorithm = algorithm
        # A retired key verifies for this long: the longest a token lives, plus a margin
        # for clock skew and for workers that have not yet noticed the rotation.
        self.retention = timedelta(seconds=max_token_seconds + 120)

    def ensure_first_key(self) -> None:
        """Generate the first key once, even when several workers start at the same moment."""
        with self._locked():
            if not (self.key_dir / ACTIVE_FILE).exists():
                self._add_active(generate_private_key(self.algorithm))

    def stage(self) -> str:
        """Publish the next key without signing with it (it is in the JWKS and verifies), so
        that downstream caches hold it before the first token it signs. Returns its kid."""
        with self._locked():
            return self._write_key(generate_private_key(self.algorithm))

    def rotate(self) -> str:
        """Make the oldest staged key active, or a new one when none is staged; the old one
        retires but keeps verifying. Returns the new kid."""
        with self._locked():
            previous = self._active_kid()
            staged = self.staged()
            kid = staged[0] if staged else self._write_key(generate_private_key(self.algorithm))
            self._activate(kid)
            if previous and previous != kid:
                (self.key_dir / f"{previous}{RETIRED_SUFFIX}").write_text(datetime.now(UTC).isoformat())
            return kid

    def staged(self) -> list[str]:
        """Published keys that have never signed (neither active nor retired), oldest first."""
        staged = [stored.kid for stored in self.list() if not stored.active and stored.retired_at is None]
        return sorted(staged, key=lambda kid: (self.key_dir / f"{kid}.pem").stat().st_mtime)

    def prune(self) -> list[str]:
        """Remove retired keys that no valid token can have been signed with."""
        removed = []
        with self._locked():
            for stored in self.list():
                if stored.retired_at and self._expired(stored.retired_at):
                    (self.key_dir / f"{stored.kid}.pem").unlink(missing_ok=True)
                    (self.key_dir / f"{stored.kid}{RETIRED_SUFFIX}").unlink(missing_ok=True)
                    removed.append(stored.kid)
        return removed

    def list(self) -> list[StoredKey]:
        active = self._active_kid()
        return [
            StoredKey(path.stem, path.stem == active, self._retired_at(path.stem))
            for path in sorted(self.key_dir.glob("*.pem"))
        ]

    def load(self) -> KeyRing:
        active_kid = self._active_kid()
        if active_kid is None:
            raise SettingsError(f"no signing key: {self.key_dir / ACTIVE_FILE} is missing")
        keys: dict[str, SigningKey] = {}
        for stored in self.list():
            if stored.retired_at and self._expired(stored.retired_at):
                continue  # nothing it signed can still be valid
            pem = (self.key_dir / f"{stored.kid}.pem").read_bytes()
            key = asymmetric_key(serialization.load_pem_private_key(pem, password=None), self.algorithm)
            keys[key.kid] = key
        if active_kid not in keys:
            raise SettingsError(f"the active key {active_kid!r} is not in {self.key_dir}")
        return KeyRing(keys[active_kid], keys)

    def fingerprint(self) -> tuple[float, ...]:
        """Changes whenever a key is added, retired, pruned or activated."""
        try:
            return (self.key_dir.stat().st_mtime, (self.key_dir / ACTIVE_FILE).stat().st_mtime)
        except FileNotFoundError:
            return ()

    def _add_active(self, private_key: PrivateKey) -> str:
        kid = self._write_key(private_key)
        self._activate(kid)
        return kid

    def _write_key(self, private_key: PrivateKey) -> str:
        key = asymmetric_key(private_key, self.algorithm)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(self.key_dir / f"{key.kid}.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return key.kid

    def _activate(self, kid: str) -> None:
        staged = self.key_dir / f".{ACTIVE_FILE}.tmp"
        staged.write_text(kid + "\n")
        staged.replace(self.key_dir / ACTIVE_FILE)  # atomic: readers see the old or the new kid

    def _active_kid(self) -> str | None:
        try:
            return (self.key_dir / ACTIVE_FILE).read_text().strip() or None
        except FileNotFoundError:
            return None

    def _retired_at(self, kid: str) -> datetime | None:
        try:
            return datetime.fromisoformat((self.key_dir / f"{kid}{RETIRED_SUFFIX}").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _expired(self, retired_at: datetime) -> bool:
        return datetime.now(UTC) > retired_at + self.retention

    def _locked(self) -> _DirectoryLock:
        self.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return _DirectoryLock(self.key_dir / ".lock")


class _DirectoryLock:
    def __init__(self, path: Path) -> None:
        self._path = path

    def __enter__(self) -> None:
        self._handle = open(self._path, "w")
        fcntl.flock(self._handle, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


class StoredKeyRing(KeyRing):
    """A ring that follows its key directory: reloaded at most once a second on demand."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self._fingerprint = store.fingerprint()
        self._checked = time.monotonic()
        self._reload_lock = threading.Lock()
        loaded = store.load()
        super().__init__(loaded.active, {})
        self.replace(loaded)

    def refresh(self, *, force: bool = False) -> bool:
        """Reload when the directory changed; checked at most once a second unless `force`
        (an unknown kid: a rotation another worker already signs with)."""
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_CHECK_SECONDS:
            return False
        with self._reload_lock:
            self._checked = now
            fingerprint = self.store.fingerprint()
            if fingerprint == self._fingerprint:
                return False
            self.replace(self.store.load())
            self._fingerprint = fingerprint
            return True
