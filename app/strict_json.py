"""Parsing a JSON request body the way every reader of it must agree on.

RFC 8259 §4 leaves duplicated object keys to each implementation: Python and pydantic keep
the last one, many proxies and WAFs the first. A body one layer reads as `{"role": "member"}`
and another as `{"role": "admin"}` is a parser-differential attack, so a duplicated key is
refused (API.md conventions), except on routes whose own standard says otherwise.
"""

from __future__ import annotations

import json
import math
from typing import Any

from policies.problems import BadRequest, FieldError

# A key is named in the error only when it is short and printable (it comes from the caller).
_MAX_NAMED_KEY = 64


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__("duplicated key")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKey(key)
        obj[key] = value
    return obj


def _not_json(constant: str) -> Any:
    # RFC 8259 §6: "Numeric values that cannot be represented ... (such as Infinity and NaN)
    # are not permitted." Python reads them; PostgreSQL's json refuses them (a 500), SQLite
    # stores null.
    raise ValueError(f"{constant} is not JSON")


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):  # 1e400: a literal beyond a double is Infinity once read
        raise ValueError("a number beyond the range of a double")
    return value


def parse(raw: bytes | str, *, refuse_duplicate_keys: bool = True) -> Any:
    """The JSON value of `raw`; raises BadRequest (400) when it is not JSON (NaN and Infinity
    are not), is nested too deep for the parser, or (with `refuse_duplicate_keys`) repeats a
    key within one object."""
    hook = _unique_keys if refuse_duplicate_keys else None
    try:
        return json.loads(raw, object_pairs_hook=hook, parse_constant=_not_json, parse_float=_finite)
    except DuplicateKey as exc:
        named = exc.key if len(exc.key) <= _MAX_NAMED_KEY and exc.key.isprintable() else "body"
        raise BadRequest(
            "The request body repeats a key within one JSON object.",
            extra={"errors": [FieldError(named, "is given more than once")]},
        ) from None
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and undecodable bytes; RecursionError a body nested
        # deeper than the parser's stack allows (a 500 before, issue 14).
        raise BadRequest("The request body is not valid JSON.") from None
