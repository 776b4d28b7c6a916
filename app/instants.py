"""Reading an instant a caller sent (a `since` filter, the time inside a cursor).

One parser for both, so that the two cannot drift: ISO 8601 with a UTC offset, nothing else,
and always an instant the database column can hold once converted to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


class NotAnInstant(ValueError):
    """The text is not an ISO 8601 date-time with an offset, or names no representable instant."""


def parse_instant(text: object) -> datetime:
    """The UTC instant `text` names; raises NotAnInstant for anything else.

    A naive time means a different instant to each reader, so it is refused. An offset that
    carries the time past year 9999 or before year 1 (`9999-12-31T23:59:59-23:59`) has no
    UTC form: refused here, not an OverflowError (a 500) in the query (issue 14).
    """
    if not isinstance(text, str):
        raise NotAnInstant("not a string")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise NotAnInstant("not ISO 8601") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise NotAnInstant("no offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise NotAnInstant("outside the representable range") from None
