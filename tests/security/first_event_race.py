"""The race of a counting window's first failures (PostgreSQL): the first one finds no
audit event to count into and stalls there, before making one, until the others are done.
Were nothing to serialise them, each would make an event of its own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from sqlalchemy import event

from app.services import services


def first_stalls_until_others_are_done(
    app: Flask, first: Callable[[], int], other: Callable[[int], int], others: int = 10
) -> tuple[int, list[int]]:
    """Run `first()`, stalled once it found no event, and `other(n)` for n in range(others)
    meanwhile (a few seconds at most); their statuses."""
    found_none, others_done = threading.Event(), threading.Semaphore(0)
    first_thread: list[int] = []

    def stall_once_none_is_found(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        stalls = threading.get_ident() in first_thread and not found_none.is_set()
        if stalls and statement.startswith("UPDATE audit_events") and cursor.rowcount == 0:
            found_none.set()
            for _ in range(others):
                others_done.acquire(timeout=5)

    def run_first() -> int:
        first_thread.append(threading.get_ident())
        return first()

    def run_other(n: int) -> int:
        try:
            return other(n)
        finally:
            others_done.release()

    engine = services(app).database.engine
    event.listen(engine, "after_cursor_execute", stall_once_none_is_found)
    try:
        with ThreadPoolExecutor(others + 1) as pool:
            first_status = pool.submit(run_first)
            assert found_none.wait(timeout=10)
            other_statuses = list(pool.map(run_other, range(others)))
            return first_status.result(timeout=20), other_statuses
    finally:
        event.remove(engine, "after_cursor_execute", stall_once_none_is_found)
