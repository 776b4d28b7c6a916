"""Partial updates (PATCH): one way to say "leave this field as it is".

A service's update takes its fields keyword-only, each typed `T | Unchanged` with the
default `UNCHANGED`: UNCHANGED is a field the request left out. `None` is a value, and only
where a field may be empty (a user's email, a permission's owner_override) does it clear
it; request bodies refuse null for every other field (app.schemas.never_null). A route
hands over exactly what was sent: `service.update_x(..., **sent(body))`.
"""

from __future__ import annotations

import enum
from typing import Any, Final

from pydantic import BaseModel


class Unchanged(enum.Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = Unchanged.UNCHANGED


def sent(body: BaseModel) -> dict[str, Any]:
    """The fields the client sent in a partial update, by name (left-out ones are absent)."""
    return {name: getattr(body, name) for name in body.model_fields_set}
