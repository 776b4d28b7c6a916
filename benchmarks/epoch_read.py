"""What one revocation-epoch read costs: a primary-key read on PostgreSQL (an open
autocommit connection) against a Redis GET, interleaved rounds, medians.

    AUTHZ_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    AUTHZ_BENCH_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m benchmarks.epoch_read
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import psycopg
import redis

ROUNDS = 5
READS = 5_000


def per_read_us(read: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(READS):
        read()
    return (time.perf_counter() - started) / READS * 1e6


def main() -> None:
    dsn = os.environ["AUTHZ_BENCH_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE TEMP TABLE epoch (id int PRIMARY KEY, value bigint)")
        connection.execute("INSERT INTO epoch VALUES (1, 42)")
        cache = redis.Redis.from_url(os.environ["AUTHZ_BENCH_REDIS_URL"])
        cache.set("bench:epoch", 42)
        cursor = connection.cursor()

        def database() -> object:
            cursor.execute("SELECT value FROM epoch WHERE id = 1")
            return cursor.fetchone()

        results: dict[str, list[float]] = {"postgresql": [], "redis": []}
        for _ in range(ROUNDS):
            results["postgresql"].append(per_read_us(database))
            results["redis"].append(per_read_us(lambda: cache.get("bench:epoch")))
        cache.delete("bench:epoch")
    for name, values in results.items():
        print(f"{name:<11} {statistics.median(values):6.1f} µs per read (median of {ROUNDS} rounds)")


if __name__ == "__main__":
    main()
