"""Keyset pagination on (created_at, id), newest first: app.pagination's mirror image.

Same opaque cursors, compared the other way, so that a deep page is one index range scan
(on (tenant_id, created_at, id)) exactly like the first page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from app.errors import FieldError, ValidationFailed
from app.pagination import decode_cursor, encode_cursor


def paginate_newest_first(
    session: Session, stmt: Select[Any], model: Any, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """One page of `stmt` ordered by (created_at, id) descending, plus the next page's cursor."""
    if cursor:
        created_at, object_id = decode_cursor(cursor)
        if created_at.tzinfo is None:
            raise ValidationFailed([FieldError("cursor", "is not a cursor this API issued")])
        stmt = stmt.where(tuple_(model.created_at, model.id) < tuple_(created_at, object_id))
    ordered = stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    rows = list(session.scalars(ordered))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last.created_at, last.id)
