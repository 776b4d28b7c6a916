"""Cursor pagination: keyset on (created_at, id), so that a deep page costs what the first does.
Cursors themselves (signed, so a forged one is a 400): app.cursors."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from app.cursors import decode_cursor, encode_cursor

__all__ = ["decode_cursor", "encode_cursor", "paginate"]

T = TypeVar("T")
Page = tuple[list[T], str | None]


def paginate(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
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
    page = stmt.order_by(*order).limit(limit + 1)
    # A select of one model yields its objects; a select of columns (a list that needs no
    # ORM objects), its rows. Either way each carries `created_at` and `id`.
    rows: list[Any]
    if _selects_one_entity(stmt):
        rows = list(session.scalars(page).unique())
    else:
        rows = list(session.execute(page).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last.created_at, last.id)


def _selects_one_entity(stmt: Select[*tuple[Any, ...]]) -> bool:
    descriptions = stmt.column_descriptions
    return len(descriptions) == 1 and descriptions[0]["expr"] is descriptions[0]["entity"]
