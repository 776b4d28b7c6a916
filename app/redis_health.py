"""Redis as readiness sees it: configured or not, answering or not.

Redis holds no revocation state (the revocation epoch is read from the database; see the
README's "Revocation and Redis"), so a Redis fault can slow or refuse rate limiting, never
revive a token.
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.services import services


class RedisHealth:
    def __init__(self, url: str) -> None:
        # Short timeouts and no retry: a probe must answer quickly whatever Redis does.
        self._redis = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False


def redis_health() -> RedisHealth | None:
    return services().redis_health
