"""`POST /auth/token`: OAuth 2.0 client credentials (RFC 6749 §4.4) for integrations, and
`POST /auth/introspect`: token introspection (RFC 7662)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, jsonify, request
from flask_limiter import RateLimitExceeded
from flask_openapi3 import APIBlueprint, Tag
from werkzeug.exceptions import RequestEntityTooLarge

from app.auth import introspection
from app.clients import service
from app.clients.oauth import (
    OAuthError,
    client_credentials_from_request,
    invalid_client,
    invalid_request,
    no_store,
    oauth_error_from,
    render_oauth_error,
    request_params,
    slow_down,
)
from app.clients.schemas import IntrospectionOut, OAuthErrorOut, TokenOut, token_request_body_schema
from app.database import db_session
from app.errors import problem_response, render_problem
from app.schemas import ProblemOut
from app.security.login_backoff import RateLimited
from app.security.rate_limits import introspect_limits, refusal_of, token_limits
from policies import Permission, RoutePolicy, TokenKind, public
from policies.decorators import enforce
from policies.problems import Problem

bp = APIBlueprint("oauth", __name__, url_prefix="/auth", abp_tags=[Tag(name="oauth")])

TOKEN_ENDPOINT = "oauth.token"

# A bearer caller of /auth/introspect is held to this policy (and audited when refused).
INTROSPECTION_BY_OPERATOR = RoutePolicy(
    token=TokenKind.ACCESS, permissions=frozenset({Permission.PLATFORM_READ})
)


@bp.post(
    "/token",
    responses={200: TokenOut, 400: OAuthErrorOut, 401: OAuthErrorOut, 429: OAuthErrorOut},
    openapi_extensions={"requestBody": token_request_body_schema()},
)
@public("OAuth 2.0 client credentials: the client authenticates in the request")
@token_limits()
def token() -> Response:
    """Exchange a client's id and secret (HTTP Basic or the body) for an access token.

    Form or JSON body: `grant_type=client_credentials`, optional `scope` (space-separated,
    a subset of the client's scopes). Errors are RFC 6749 §5.2 `{"error", "error_description"}`.
    """
    params = request_params()
    credentials = client_credentials_from_request(params)
    return no_store(jsonify(service.issue_client_token(db_session(), params, credentials)))


@bp.post(
    "/introspect", responses={200: IntrospectionOut, 400: OAuthErrorOut, 401: OAuthErrorOut, 429: ProblemOut}
)
@public("RFC 7662: the caller authenticates in the request, as a client or with a platform:read token")
@introspect_limits()
def introspect() -> Response:
    """Is this token active? Form or JSON `token`. The caller authenticates as a client
    (Basic or body, and sees its own tenant's tokens only) or with an access token holding
    platform:read (sees every tenant's)."""
    params = request_params()
    visible_tenant = _introspection_caller(params)
    token = params.get("token")
    if not isinstance(token, str):
        raise invalid_request("The token parameter is required.")
    return no_store(jsonify(introspection.describe(token, visible_tenant)))


def _introspection_caller(params: dict[str, Any]) -> uuid.UUID | None:
    """The tenant whose tokens the caller may see; None for a platform operator."""
    credentials = client_credentials_from_request(params)
    if credentials is not None:
        try:
            client = service.authenticate_client(
                db_session(), client_id=credentials.client_id, client_secret=credentials.client_secret
            )
        except service.ClientAuthenticationFailed:
            raise invalid_client() from None
        return client.tenant_id
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        enforce(INTROSPECTION_BY_OPERATOR, {})
        return None
    raise invalid_client("Authenticate as a client, or with an access token holding platform:read.")


bp.register_error_handler(OAuthError, render_oauth_error)


# The token endpoint answers in RFC 6749 §5.2 form even when the request is refused before
# the view (media type, malformed body or Authorization header, size); other routes of the
# blueprint keep problem+json.
@bp.errorhandler(Problem)
def _problem(exc: Problem) -> Response:
    if request.endpoint == TOKEN_ENDPOINT:
        return render_oauth_error(oauth_error_from(exc))
    return render_problem(exc)


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(exc: RateLimitExceeded) -> Response:
    _scope, retry_after = refusal_of(exc)
    if request.endpoint == TOKEN_ENDPOINT:
        return render_oauth_error(slow_down(retry_after))
    return render_problem(RateLimited(retry_after))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Response:
    if request.endpoint == TOKEN_ENDPOINT:
        return render_oauth_error(oauth_error_from(exc))
    return problem_response(413, "payload_too_large", exc.description or "The request body is too large.")
