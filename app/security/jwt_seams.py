"""The two places where we reach inside flask-jwt-extended, pinned and tested.

flask-jwt-extended is pinned to 4.7.x in pyproject.toml, and
tests/security/test_jwt_seams.py fails if either seam moves in another release.

1. `JWTManager._decode_jwt_from_config` is overridden (app.security.tokens): one strict
   decode in place of the library's lenient ones, and a cache of verified tokens.
2. Right after that decode, `view_decorators._decode_jwt_from_request` reads the header of
   the same token again with `get_unverified_jwt_headers`: a second parse of the whole
   token, in which PyJWT checks every base64url character (about 40 µs for a 1 KB token,
   more than the rest of the policy). The name that module calls is pointed at
   `verified_header`, which answers from the decode this request has just done, and parses
   exactly as before for any other token.
"""

from __future__ import annotations

from typing import Any

import flask_jwt_extended.view_decorators as view_decorators
from flask import g, has_request_context
from flask_jwt_extended.utils import get_unverified_jwt_headers as parse_header

# flask.g attribute: (token string, its verified header), set by the decode seam.
LAST_VERIFIED = "authz_last_verified_header"


def remember_verified_header(encoded_token: str, header: dict[str, Any]) -> None:
    """Called by the decode seam once `encoded_token` has been verified (or found verified)."""
    if has_request_context():
        setattr(g, LAST_VERIFIED, (encoded_token, header))


def verified_header(encoded_token: str) -> dict[str, Any]:
    """The header of `encoded_token`: the verified one when this request just verified this
    very string, else parsed as flask-jwt-extended would."""
    if has_request_context():
        last = g.get(LAST_VERIFIED)
        if last is not None and last[0] == encoded_token:
            return dict(last[1])
    header: dict[str, Any] = parse_header(encoded_token)
    return header


def install() -> None:
    """Point flask-jwt-extended's header read at `verified_header` (idempotent)."""
    # The name is imported into that module, not re-exported by it (hence the setattr).
    setattr(view_decorators, "get_unverified_jwt_headers", verified_header)  # noqa: B010
