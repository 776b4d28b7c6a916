"""Errors raised by services, and the one place that renders every error (RFC 9457)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json
from flask.typing import ResponseReturnValue
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.database_bounds import NotAnswering
from app.security import settings
from policies.binding import field_errors
from policies.decorators import ensure_denial_recorded
from policies.problems import BadRequest, FieldError, Problem, ValidationFailed, bearer_challenge

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# RFC 9457 §3.1.1: `type` resolves to documentation of the problem: our own page, served by us.
PROBLEM_TYPES_PATH = "/docs/problems"


def problem_type(code: str) -> str:
    """The absolute URI of `code`'s entry on the problems page, under our issuer."""
    return f"{settings().issuer.rstrip('/')}{PROBLEM_TYPES_PATH}#{code}"


class InvalidCredentials(Problem):
    status = 401
    code = "invalid_credentials"
    title = "Unauthorized"

    def __init__(self) -> None:
        # RFC 9110 §15.5.2: every 401 carries a challenge.
        super().__init__(
            "The tenant, username or password is wrong.",
            headers={"WWW-Authenticate": bearer_challenge()},
        )


class Conflict(Problem):
    status = 409
    code = "conflict"
    title = "Conflict"


# Werkzeug's own errors (routing, size, media type) mapped to our stable codes.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = {
        "type": problem_type(code),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **(extra or {}),
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers.update(headers or {})
    return response


def render_problem(problem: Problem) -> Response:
    """The problem as RFC 9457; a denial not yet audited is audited first (its decision_id)."""
    ensure_denial_recorded(problem)
    return problem_response(
        problem.status,
        problem.code,
        problem.detail,
        title=problem.title,
        extra=problem.extra,
        headers=problem.headers,
    )


def validation_problem(exc: ValidationError) -> Response:
    """flask-openapi3's validation_error_callback (unused while the guards bind requests)."""
    return render_problem(ValidationFailed(field_errors(exc)))


UNREACHABLE_SIGNS = ("connection", "could not connect", "timeout", "database is locked", "unable to open")


def _unreachable(exc: OperationalError) -> bool:
    if isinstance(exc.orig, NotAnswering):
        return True
    message = str(exc.orig).lower() if exc.orig is not None else ""
    return exc.connection_invalidated or any(sign in message for sign in UNREACHABLE_SIGNS)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, render_problem)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        if exc.response is not None and exc.response.mimetype == PROBLEM_MEDIA_TYPE:
            return exc.response  # already ours (validation errors raised through abort())
        status = exc.code or 500
        headers = {k: v for k, v in exc.get_headers() if k.lower() in {"allow", "retry-after"}}
        return problem_response(
            status,
            HTTP_CODES.get(status, "http_error"),
            exc.description or HTTPStatus(status).description,
            headers=headers,
        )

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError) -> Response:
        if not _unreachable(exc):
            return _unexpected(exc)  # a broken query is a bug, not an outage
        # Connection-level failures (server down, timeout, lock wait): the client may retry.
        log.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else "unknown")
        return _unavailable()

    @app.errorhandler(PoolTimeout)
    def _pool_exhausted(_exc: PoolTimeout) -> Response:
        # Every pooled connection stayed busy past the bound (a slow or frozen database).
        log.warning("database unavailable: no pooled connection within the bound")
        return _unavailable()

    def _unavailable() -> Response:
        return problem_response(
            503,
            "service_unavailable",
            "The service is temporarily unavailable.",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Logged with its trace for operators; the client sees no trace, SQL or secret.
        log.exception("unhandled error", exc_info=exc)
        return problem_response(500, "internal_error", "The server could not complete the request.")


__all__ = [
    "BadRequest",
    "Conflict",
    "FieldError",
    "InvalidCredentials",
    "Problem",
    "ValidationFailed",
    "problem_response",
    "register_error_handlers",
    "render_problem",
]
