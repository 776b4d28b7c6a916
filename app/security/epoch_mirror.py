"""The revocation epoch as workers read it: from Redis when configured, else the database.

Redis holds a mirror of the database counter, written only upward (a compare-and-set
script), with a short expiry so that a lost publish heals within `MIRROR_TTL_SECONDS`.
When Redis fails, readers fall back to the database for a while: an outage degrades
speed, never revocation.
"""

from __future__ import annotations

import logging
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.database import database

log = logging.getLogger(__name__)

MIRROR_TTL_SECONDS = 5
OUTAGE_BACKOFF_SECONDS = 2.0
# Set the mirror to ARGV[1] unless it already holds a newer value.
RAISE_ONLY = """
local current = redis.call('GET', KEYS[1])
if current == false or tonumber(current) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
"""


CURRENT_SQL = "SELECT value FROM token_state_epoch WHERE id = 1"  # models.EPOCH_ROW_ID


def database_epoch() -> int:
    """One primary-key read on this worker's autocommit connection (no session needed)."""
    return int(database().read_one(CURRENT_SQL))


class RedisEpochMirror:
    def __init__(self, url: str, prefix: str) -> None:
        self._key = f"{prefix}:token-state-epoch"
        # Short timeouts and a single retry: a slow Redis must not hang the workers.
        self._redis = redis.Redis.from_url(
            url, socket_timeout=0.3, socket_connect_timeout=0.3, retry=Retry(NoBackoff(), 1)
        )
        self._raise = self._redis.register_script(RAISE_ONLY)
        self._down_until = 0.0

    def current(self) -> int:
        """One Redis GET; on a miss or an outage, the database's value."""
        if time.monotonic() >= self._down_until:
            try:
                cached = self._redis.get(self._key)
                if cached is not None:
                    return int(cached)
                value = database_epoch()
                self._raise(keys=[self._key], args=[value, MIRROR_TTL_SECONDS])
                return value
            except redis.RedisError:
                self._down_until = time.monotonic() + OUTAGE_BACKOFF_SECONDS
                log.warning("redis unavailable; reading the revocation epoch from the database")
        return database_epoch()

    def publish(self, value: int) -> None:
        try:
            self._raise(keys=[self._key], args=[value, MIRROR_TTL_SECONDS])
        except redis.RedisError:
            # The mirror expires within MIRROR_TTL_SECONDS and is then read from the database.
            log.warning("could not publish revocation epoch %s to redis", value)

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False
