"""Keyset (cursor) pagination on (created_at, id): a deep page costs what the first does."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from app.errors import FieldError, ValidationFailed

T = TypeVar("T")


def encode_cursor(created_at: datetime, object_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(object_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, object_id = json.loads(base64.urlsafe_b64decode(padded))
        decoded = datetime.fromisoformat(created_at), uuid.UUID(object_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        decoded = None
    if decoded is None or decoded[0].tzinfo is None:
        raise ValidationFailed([FieldError("cursor", "is not a cursor this API issued")])
    return decoded


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
