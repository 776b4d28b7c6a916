"""Cross-origin requests from browser clients (CORS): closed unless AUTHZ_CORS_ORIGINS names
exact origins. Tokens travel in the Authorization header, never in cookies, so credentials
are never allowed and `*` is never sent (Fetch standard: no `*` with credentials)."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response
from flask_cors import CORS

# What a browser client may send and read: the bearer token, JSON bodies, its request id.
ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-Request-ID"]
EXPOSED_HEADERS = ["WWW-Authenticate", "Retry-After", "X-Request-ID", "Location"]
PREFLIGHT_MAX_AGE = 600


def init_cors(app: Flask, origins: Sequence[str]) -> None:
    """Answer the listed origins (each exact, validated by the settings); no one else."""
    if not origins:
        return  # closed: no CORS header is ever sent, so browsers keep other origins out
    # Whether an answer carries Access-Control-Allow-Origin depends on the request's Origin,
    # so every answer says `Vary: Origin`, else a shared cache (the JWKS is cacheable) hands
    # one origin's answer to another. flask-cors adds it only to answers it decorates, and
    # only with several origins. Registered first, this runs after flask-cors's own hook.
    app.after_request(_vary_by_origin)
    CORS(
        app,
        origins=list(origins),
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        supports_credentials=False,
        send_wildcard=False,
        max_age=PREFLIGHT_MAX_AGE,
        vary_header=True,
    )


def _vary_by_origin(response: Response) -> Response:
    response.vary.add("Origin")
    return response
