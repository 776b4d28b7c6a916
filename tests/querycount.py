"""Counting the SQL a request runs, so that "no N+1" is an assertion."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any

# Savepoints and BEGIN come from the per-test transaction, not from the request.
NOT_COUNTED = re.compile(r"^\s*(SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT)\b", re.IGNORECASE)


class QueryCounter:
    def __init__(self) -> None:
        self.active = False
        self.statements: list[str] = []

    def on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.active and not NOT_COUNTED.match(statement):
            self.statements.append(statement)

    @contextmanager
    def counting(self):  # type: ignore[no-untyped-def]
        self.statements = []
        self.active = True
        try:
            yield self
        finally:
            self.active = False

    @property
    def count(self) -> int:
        return len(self.statements)
