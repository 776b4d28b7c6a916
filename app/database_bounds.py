"""Every wait on PostgreSQL is bounded, so a stopped or frozen database is a quick 503.

psycopg's `connect_timeout` covers new connections only: a paused server (SIGSTOP, a
frozen VM, a network partition) hangs queries on pooled connections until something else
gives up. The loopback kernel keeps acknowledging a stopped process's packets, so TCP
keepalives and `tcp_user_timeout` cannot see it; only a client-side deadline can. Here:

- the server cancels a statement or lock wait a little before our bound (it answers while
  alive, and its error leaves the connection usable);
- every wait of psycopg on a connection (query, fetch, commit, pool pre-ping) gives up
  after `bound` seconds, closing the connection, whose state is then unknown;
- after one such timeout, the next second of connections and waits fails at once
  instead of each request paying the whole bound again;
- TCP keepalives and `tcp_user_timeout` cover a peer that vanished from the network.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, TypeVar

import psycopg
from psycopg.abc import PQGen
from sqlalchemy import Engine, event

RV = TypeVar("RV")
# psycopg's own default for Connection.wait's interval (seconds between readiness checks).
WAIT_INTERVAL = 0.1

# psycopg enforces at least 2 s (as libpq does).
CONNECT_TIMEOUT_SECONDS = 2
# How long everything fails at once after a wait timed out.
FAIL_FAST_SECONDS = 1.0
# The server's own statement timeout fires this much before our client-side bound.
SERVER_MARGIN_SECONDS = 0.25


class NotAnswering(psycopg.OperationalError):
    """The database did not answer within the bound, or did not a moment ago."""


class Unresponsive:
    """Remembers that the database stopped answering, for a moment (a tiny circuit breaker)."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def trip(self) -> None:
        with self._lock:
            self._until = time.monotonic() + FAIL_FAST_SECONDS

    def tripped(self) -> bool:
        return time.monotonic() < self._until


def bounded_connection_class(bound: float, breaker: Unresponsive) -> type[psycopg.Connection]:
    """A psycopg connection class whose every wait gives up after `bound` seconds."""

    class BoundedConnection(psycopg.Connection):
        def wait(self, gen: PQGen[RV], interval: float = WAIT_INTERVAL, timeout: float | None = None) -> RV:
            if breaker.tripped():
                self.pgconn.finish()  # SQLAlchemy sees a closed connection: a disconnect
                raise NotAnswering("the database is not answering")
            limit = bound if timeout is None else min(timeout, bound)
            started = time.monotonic()
            try:
                return super().wait(gen, interval, timeout=limit)
            except psycopg.OperationalError:
                if time.monotonic() - started >= limit and not self.closed:
                    # A timed-out wait leaves the protocol mid-message: the connection is gone.
                    breaker.trip()
                    self.pgconn.finish()
                raise

    return BoundedConnection


def postgres_connect_args(bound: float) -> dict[str, Any]:
    """libpq parameters: server-side timeouts a little under `bound`, keepalives, TCP timeout."""
    server_ms = max(100, int((bound - SERVER_MARGIN_SECONDS) * 1000))
    return {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "options": f"-c statement_timeout={server_ms} -c lock_timeout={server_ms}",
        "keepalives": 1,
        "keepalives_idle": max(1, math.ceil(bound)),
        "keepalives_interval": 1,
        "keepalives_count": 2,
        "tcp_user_timeout": int(bound * 1000),
    }


def bound_waits(engine: Engine, bound: float) -> Unresponsive:
    """Make `engine` connect through the bounded connection class."""
    breaker = Unresponsive()
    connection_class = bounded_connection_class(bound, breaker)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        if breaker.tripped():
            raise NotAnswering("the database is not answering")
        return connection_class.connect(*cargs, **cparams)

    return breaker
