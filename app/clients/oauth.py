"""The OAuth 2.0 protocol surface of the token endpoint (RFC 6749): its parameters, how a
client authenticates in the request, and its own error form (§5.2, not problem+json; its
429 is both).

Reused by every endpoint where a client authenticates with its secret (token, introspection).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException

from app.security.login_backoff import RateLimited
from policies.problems import Problem, ValidationFailed

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# RFC 9110 §15.5.2: a 401 names the scheme to use; RFC 6749 §2.3.1: HTTP Basic is the one we take.
BASIC_CHALLENGE = 'Basic realm="authz"'
# RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
_NOT_IN_DESCRIPTION = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
# RFC 8628 §3.5 (IANA OAuth Extensions Error Registry): the token endpoint's "asking too often".
SLOW_DOWN = "slow_down"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error. Raised by the token endpoint's code, rendered once by its blueprint."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers: dict[str, str] = {}


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_client(description: str = "Client authentication failed.") -> OAuthError:
    return OAuthError("invalid_client", description, status=401)


def unauthorized_client(description: str) -> OAuthError:
    return OAuthError("unauthorized_client", description)


def unsupported_grant_type(description: str) -> OAuthError:
    return OAuthError("unsupported_grant_type", description)


def invalid_scope(description: str) -> OAuthError:
    return OAuthError("invalid_scope", description)


def slow_down(retry_after: int) -> RateLimited:
    """A rate-limited token request: the contract's 429 problem `rate_limited` (API.md, Rate
    limits) that also carries the RFC 6749 §5.2 members, so that a client reading problems
    and an OAuth client reading `error` both understand it (RFC 9457 §3.2: extension
    members). `slow_down` is the token endpoint's registered error for "asking too often"
    (RFC 8628 §3.5, IANA OAuth Extensions Error Registry); Retry-After says for how long."""
    seconds = max(1, retry_after)
    description = f"Too many requests; retry after {seconds} seconds."
    problem = RateLimited(seconds, description)
    problem.extra.update(error=SLOW_DOWN, error_description=description)
    return problem


def no_store(response: Response) -> Response:
    """RFC 6749 §5.1: token responses (and their errors) must not be cached."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def render_oauth_error(exc: OAuthError) -> Response:
    body = {"error": exc.error, "error_description": _NOT_IN_DESCRIPTION.sub("", exc.description)}
    response = jsonify(body)
    response.status_code = exc.status
    if exc.status == 401:
        # RFC 6749 §5.2 asks for the Basic challenge when Basic was used; RFC 9110 §15.5.2 for a
        # challenge on every 401, so it is always sent (and tells a client the method to use).
        response.headers["WWW-Authenticate"] = BASIC_CHALLENGE
    response.headers.update(exc.headers)
    return no_store(response)


def oauth_error_from(exc: Problem | HTTPException) -> OAuthError:
    """An error raised before the view (app-wide request hygiene, body limits), in §5.2 form."""
    if isinstance(exc, ValidationFailed):
        # RFC 6749 §5.2: an unsupported or repeated parameter is invalid_request, a 400.
        fields = sorted({str(error["field"]) for error in exc.extra.get("errors", [])})
        return invalid_request("Unsupported or repeated parameters: " + ", ".join(fields) + ".")
    if isinstance(exc, Problem):
        status, description = exc.status, exc.detail
    else:
        status, description = exc.code or 400, exc.description or "The request is not valid."
    if status == 401:
        return invalid_client(description)
    return OAuthError("invalid_request", description, status=status)


# --- parameters --------------------------------------------------------------------------


def request_params() -> dict[str, Any]:
    """The request's parameters: a form body (RFC 6749 §4.4.2) or the same as a JSON object.

    A repeated parameter is refused and an empty one is treated as absent (RFC 6749 §3.2).
    Values are not validated here beyond that; the service validates them.
    """
    if "client_secret" in request.args:
        # RFC 6749 §2.3.1: credentials only in the body or the header, never in the URI (logs).
        raise invalid_request("Client credentials must not be sent in the URI.")
    if request.mimetype == FORM_MEDIA_TYPE:
        given = request.form.to_dict(flat=False)
        repeated = sorted(name for name, values in given.items() if len(values) > 1)
        if repeated:
            raise invalid_request("Parameters must not be repeated: " + ", ".join(repeated) + ".")
        params: dict[str, Any] = {name: values[0] for name, values in given.items()}
    elif request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise invalid_request("The JSON body must be an object of parameters.")
        params = dict(data)
    elif not request.content_length and not request.headers.get("Transfer-Encoding"):
        params = {}
    else:
        raise invalid_request(f"Send the parameters as {FORM_MEDIA_TYPE} (or application/json).")
    return {name: value for name, value in params.items() if value not in ("", None)}


# --- client authentication ----------------------------------------------------------------


class ClientCredentials(NamedTuple):
    client_id: str
    client_secret: str
    used_basic: bool


def basic_credentials() -> tuple[str, str] | None:
    """The client id and secret from `Authorization: Basic` (client_secret_basic), or None.

    RFC 6749 §2.3.1: each is form-urlencoded before the Basic encoding, so each is decoded
    after it. Another scheme (a Bearer token, say) is not client authentication: ignored.
    """
    header = request.headers.get("Authorization", "").strip()
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        client_id, colon, secret = decoded.partition(":")
        client_id = unquote_plus(client_id, errors="strict")
        secret = unquote_plus(secret, errors="strict")
    except (binascii.Error, UnicodeDecodeError):
        raise invalid_client("The Basic credentials are malformed.") from None
    if not colon or not client_id or not secret:
        raise invalid_client("The Basic credentials are malformed.")
    return client_id, secret


def client_credentials_from_request(params: Mapping[str, Any] | None = None) -> ClientCredentials | None:
    """How the client authenticates in this request: HTTP Basic or the body, or None if it does not.

    `params` are the request's parameters (`request_params()` when not given). Raises
    OAuthError: both methods at once is invalid_request (RFC 6749 §2.3: one method per request);
    a client_id without its secret is invalid_client (only confidential clients here).
    """
    params = request_params() if params is None else params
    basic = basic_credentials()
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
    if basic is not None:
        if body_secret is not None:
            raise invalid_request("Use one client authentication method: HTTP Basic or the body, not both.")
        if body_id is not None and body_id != basic[0]:
            raise invalid_request("The client_id parameter names another client than the Basic credentials.")
        return _well_formed(ClientCredentials(basic[0], basic[1], used_basic=True))
    if body_id is None and body_secret is None:
        return None
    if (body_id is not None and not isinstance(body_id, str)) or (
        body_secret is not None and not isinstance(body_secret, str)
    ):
        raise invalid_request("client_id and client_secret must be strings.")
    if body_id is None:
        raise invalid_request("client_secret was sent without client_id.")
    if body_secret is None:
        raise invalid_client("Client authentication failed: a client_secret is required.")
    return _well_formed(ClientCredentials(body_id, body_secret, used_basic=False))


def _well_formed(credentials: ClientCredentials) -> ClientCredentials:
    """No credential we issue holds a control character or a lone surrogate; refusing them
    here keeps them from the database (NUL) and the HMAC (surrogates)."""
    for value in (credentials.client_id, credentials.client_secret):
        if not value.isprintable() or not _encodable(value):
            raise invalid_client("The client credentials are malformed.")
    return credentials


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
