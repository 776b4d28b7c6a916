"""Errors raised by services, and the one place that renders every error (RFC 9457)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from policies.problems import Problem, bearer_challenge

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://authz.example/problems/"


class FieldError(dict[str, str]):
    """One entry of a validation problem's `errors`: the field and what is wrong, never the value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field=field, message=message)


class ValidationFailed(Problem):
    status = 422
    code = "validation_error"
    title = "Unprocessable Content"

    def __init__(self, errors: Sequence[FieldError], detail: str = "The request is not valid.") -> None:
        super().__init__(detail, extra={"errors": list(errors)})


class BadRequest(Problem):
    status = 400
    code = "bad_request"
    title = "Bad Request"


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
        "type": PROBLEM_TYPE_BASE + code,
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
    return problem_response(
        problem.status,
        problem.code,
        problem.detail,
        title=problem.title,
        extra=problem.extra,
        headers=problem.headers,
    )


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic errors reduced to field and message: `input` would echo a password back."""
    errors = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        errors.append(FieldError(field, error["msg"]))
    return errors


def validation_problem(exc: ValidationError) -> Response:
    """flask-openapi3's validation_error_callback: our 422 problem instead of its list."""
    return render_problem(ValidationFailed(field_errors(exc)))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, render_problem)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
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

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Logged with its trace for operators; the client sees no trace, SQL or secret.
        log.exception("unhandled error", exc_info=exc)
        return problem_response(500, "internal_error", "The server could not complete the request.")


def errors_for(fields: Iterable[tuple[str, str]]) -> list[FieldError]:
    return [FieldError(field, message) for field, message in fields]
