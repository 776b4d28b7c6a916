"""A bounded cache of verified tokens, so that each token string is verified once.

Parsing and verifying a JWT costs far more than the rest of a protected request (the
benchmark in the README). The cache maps the exact token string to its verified claims;
a hit still checks expiry, not-before and that the signing key is still in the key set,
and revocation is checked on every request regardless (app.security.token_state).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from policies.principal import VerifiedClaims


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    header: dict[str, Any]
    claims: VerifiedClaims
    kid: str


class VerifiedTokenCache:
    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, VerifiedToken] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, token: str, leeway: int, live_kids: Any) -> VerifiedToken | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            now = time.time()
            claims = entry.claims
            if now > claims["exp"] + leeway or now < claims["nbf"] - leeway or entry.kid not in live_kids:
                del self._entries[token]
                return None
            self._entries.move_to_end(token)
            return entry

    def put(self, token: str, entry: VerifiedToken) -> None:
        with self._lock:
            self._entries[token] = entry
            self._entries.move_to_end(token)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
