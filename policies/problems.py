"""Errors as exceptions, rendered once as RFC 9457 problem+json by the app.

Decorators and services raise these; they never build a response themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class Problem(Exception):
    """An error with everything an RFC 9457 response needs."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra: dict[str, Any] = dict(extra or {})
        self.headers: dict[str, str] = dict(headers or {})


# RFC 6750 §3: a 401 names the scheme and, when a token was presented, what was wrong with it.
BEARER_CHALLENGE = 'Bearer realm="authz"'


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    if error is None:
        return BEARER_CHALLENGE
    challenge = f'{BEARER_CHALLENGE}, error="{error}"'
    if description:
        challenge += f', error_description="{description}"'
    return challenge


class Unauthenticated(Problem):
    status = 401
    code = "token_invalid"
    title = "Unauthorized"

    def __init__(self, detail: str, *, code: str | None = None, error: str | None = "invalid_token") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": bearer_challenge(error)})
        if code:
            self.code = code


class PermissionDenied(Problem):
    status = 403
    code = "permission_denied"
    title = "Forbidden"

    def __init__(self, required: Iterable[str], detail: str | None = None) -> None:
        needed = sorted(str(p) for p in required)
        super().__init__(
            detail or f"This operation requires: {', '.join(needed)}.",
            extra={"required_permissions": needed},
        )


class TenantSuspended(Problem):
    status = 403
    code = "tenant_suspended"
    title = "Tenant Suspended"


class NotFound(Problem):
    status = 404
    code = "not_found"
    title = "Not Found"

    def __init__(self, detail: str = "The requested resource does not exist.") -> None:
        super().__init__(detail)


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


class WrongPrincipalKind(PermissionDenied):
    """The route admits other principals (a client on a user's route, or the reverse)."""

    def __init__(self, admitted: Iterable[str]) -> None:
        kinds = " or ".join(sorted(admitted))
        super().__init__([], detail=f"This route admits only a {kinds} token.")
