"""Cursor pagination: keyset on (created_at, id), so that a deep page costs what the first does;
and, for short lists computed in memory, on a unique name. Cursors themselves: app.cursors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from app.cursors import decode_cursor, decode_key_cursor, encode_cursor, encode_key_cursor

__all__ = ["decode_cursor", "encode_cursor", "paginate", "paginate_sorted"]

T = TypeVar("T")
Page = tuple[list[T], str | None]


def paginate_sorted(items: Sequence[T], key: Callable[[T], str], limit: int, cursor: str | None) -> Page[T]:
    """One page of `items` (already in ascending `key` order, keys unique) and the next cursor;
    for lists computed in memory."""
    start = 0
    if cursor:
        after = decode_key_cursor(cursor)
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, encode_key_cursor(key(page[-1])) if more and page else None


def paginate(
    session: Session,
    stmt: Select[Any],
    model: Any,
    limit: int,
    cursor: str | None,
    *,
    newest_first: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of `stmt` ordered by (created_at, id), oldest or newest first, plus the cursor
    of the next one. Either way a deep page is one index range scan, like the first."""
    keyset = tuple_(model.created_at, model.id)
    if cursor:
        after = tuple_(*decode_cursor(cursor))
        stmt = stmt.where(keyset < after if newest_first else keyset > after)
    order = (model.created_at.desc(), model.id.desc()) if newest_first else (model.created_at, model.id)
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)).unique())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last.created_at, last.id)
