"""Request and response hygiene applied to every route."""

from __future__ import annotations

import io
import re

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from app import strict_json
from app.errors import Problem
from policies.decorators import request_policy
from policies.problems import Unauthenticated

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# RFC 6749 §4.4.2 and RFC 7662 §2.1: these endpoints take form bodies and parse their own.
FORM_BODY_ENDPOINTS = frozenset({"oauth.token", "oauth.introspect"})
# AuthZEN (app.decisions): a wrong media type or malformed JSON is a 400 there, after the policy.
SELF_PARSING_ENDPOINTS = frozenset(
    f"decisions.{name}"
    for name in ("evaluation", "evaluations", "search_subject", "search_resource", "search_action")
)


# The scheme at the start of a field, in any case, followed by a space or nothing.
_BEARER_SCHEME = re.compile(r"(^|,)([ \t]*)bearer(?=[ \t]|,|$)", re.IGNORECASE)


def canonical_bearer_scheme(header: str, spelling: str = "Bearer") -> str:
    """`header` with the Bearer scheme spelt as configured; nothing else changes."""
    return _BEARER_SCHEME.sub(lambda m: m.group(1) + m.group(2) + spelling, header)


class UnsupportedMediaType(Problem):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported Media Type"


def bound_streamed_body() -> None:
    """A body without Content-Length (chunked) is read up to the limit, and one byte more:
    over the limit it is a 413, as the same body with Content-Length is, instead of being
    cut silently at the limit (Werkzeug stops reading there without a word)."""
    environ = request.environ
    limit = request.max_content_length
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if limit is None or not chunked or "wsgi.input_terminated" not in environ:
        return
    body = environ["wsgi.input"].read(limit + 1)  # the server has removed the chunk framing
    if len(body) > limit:
        raise RequestEntityTooLarge()
    # From here on the body is an ordinary one of known length.
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    del environ["HTTP_TRANSFER_ENCODING"]
    del environ["wsgi.input_terminated"]


def register_http_hygiene(app: Flask) -> None:
    app.before_request(bound_streamed_body)

    @app.before_request
    def _refuse_malformed_authorization() -> None:
        # flask-jwt-extended 4.7 raises IndexError (a 500) on an empty comma-separated field.
        header = request.headers.get("Authorization")
        if header and header.strip() and any(not field.strip() for field in header.split(",")):
            raise Unauthenticated("The Authorization header is malformed.")
        if header:
            # RFC 9110 §11.1: the scheme is case-insensitive, but flask-jwt-extended compares it
            # with JWT_HEADER_TYPE exactly; spelling it as configured leaves the token untouched.
            spelling = current_app.config.get("JWT_HEADER_TYPE") or "Bearer"
            request.environ["HTTP_AUTHORIZATION"] = canonical_bearer_scheme(header, spelling)

    @app.before_request
    def _require_json_bodies() -> None:
        """A body must be JSON (415 otherwise) and well-formed, without a duplicated key unless
        the route's policy allows one (400 otherwise), before any view. The form-taking OAuth
        endpoints take JSON too, held to the same rules."""
        if request.method not in BODY_METHODS or request.routing_exception is not None:
            return
        if request.endpoint in SELF_PARSING_ENDPOINTS:
            return
        has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")
        if not has_body:
            return
        if not request.is_json:
            if request.endpoint in FORM_BODY_ENDPOINTS:
                return
            raise UnsupportedMediaType("Send the request body as application/json.")
        policy = request_policy()
        strict_json.parse(
            request.get_data(cache=True), refuse_duplicate_keys=policy is None or policy.strict_input
        )

    @app.after_request
    def _secure_headers(response: Response) -> Response:
        # Tokens and tenant data must never be stored by caches (RFC 6749 §5.1, RFC 9111).
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
