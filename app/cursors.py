"""Cursors: opaque, signed positions in a list.

A cursor is base64url(JSON values) "." base64url(HMAC). The MAC covers the request path, so a
cursor is good only for the list that issued it; a cursor we did not issue, altered, or
carried to another list is a 400 (API.md), and its contents are parsed only once the MAC
holds. Even then every part is checked as if hostile (issue 14: an integer where the id was
used to be a 500).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from datetime import datetime

from flask import has_request_context, request

from app.errors import BadRequest, FieldError
from app.instants import NotAnInstant, parse_instant
from app.security import client_secret_key

# 128 bits: forging one is as hard as guessing a random token.
MAC_BYTES = 16
_DOMAIN = b"authz-cursor\x00"


class InvalidCursor(BadRequest):
    """A cursor we did not issue, or one altered: a 400 (API.md), whichever part is wrong."""

    def __init__(self) -> None:
        super().__init__(
            "The cursor is not one this API issued for this list.",
            extra={"errors": [FieldError("cursor", "is not a cursor this API issued")]},
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))


def _mac(payload: bytes) -> bytes:
    # A cursor made outside a request (a script, a test) is bound to no path.
    scope = request.path.encode() if has_request_context() else b""
    message = _DOMAIN + scope + b"\x00" + payload
    return hmac.new(client_secret_key(), message, hashlib.sha256).digest()[:MAC_BYTES]


def sign(values: list[str]) -> str:
    payload = json.dumps(values, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(payload))}"


def unsign(cursor: str, size: int) -> list[str]:
    """The `size` strings of a cursor we issued for this list; InvalidCursor otherwise."""
    encoded_payload, dot, encoded_mac = cursor.partition(".")
    try:
        payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
    except (ValueError, binascii.Error):  # not ASCII, not base64
        raise InvalidCursor() from None
    if not dot or not hmac.compare_digest(mac, _mac(payload)):
        raise InvalidCursor()
    if _b64(payload) != encoded_payload or _b64(mac) != encoded_mac:
        raise InvalidCursor()  # one cursor, one spelling: no padding or stray characters added
    return parse_values(payload, size)


def parse_values(payload: bytes, size: int) -> list[str]:
    """The JSON list of `size` strings in `payload`; InvalidCursor for anything else."""
    try:
        values = json.loads(payload)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deep
        raise InvalidCursor() from None
    if not isinstance(values, list) or len(values) != size or not all(isinstance(v, str) for v in values):
        raise InvalidCursor()
    return values


def encode_cursor(created_at: datetime, object_id: uuid.UUID) -> str:
    """The position after a row in a list ordered by (created_at, id)."""
    return sign([created_at.isoformat(), str(object_id)])


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    return keyset_values(unsign(cursor, 2))


def keyset_values(values: list[str]) -> tuple[datetime, uuid.UUID]:
    created_at, object_id = values
    try:
        return parse_instant(created_at), uuid.UUID(object_id)
    except (NotAnInstant, ValueError):
        raise InvalidCursor() from None


def encode_key_cursor(key: str) -> str:
    """The position after `key` in a list ordered by a unique string (the permission catalog)."""
    return sign([key])


def decode_key_cursor(cursor: str) -> str:
    return unsign(cursor, 1)[0]
