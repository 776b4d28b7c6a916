"""`POST /auth/token`: OAuth 2.0 client credentials (RFC 6749 §4.4) for integrations, and
`POST /auth/introspect`: token introspection (RFC 7662)."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask_limiter import RateLimitExceeded
from flask_openapi3 import APIBlueprint, Tag
from werkzeug.exceptions import RequestEntityTooLarge

from app.auth import introspection
from app.clients import service
from app.clients.oauth import (
    OAuthError,
    client_credentials_from_request,
    invalid_request,
    no_store,
    oauth_error_from,
    render_oauth_error,
    request_params,
    slow_down,
)
from app.clients.schemas import (
    IntrospectionOut,
    OAuthErrorOut,
    TokenOut,
    introspection_request_body_schema,
    token_request_body_schema,
)
from app.database import db_session
from app.errors import problem_response, render_problem
from app.openapi_document import BASIC_SCHEME, BEARER_SCHEME, OAUTH_ERRORS_EXTENSION
from app.security import client_secret_key, settings
from app.security.login_backoff import RateLimited
from app.security.rate_limits import introspect_limits, refusal_of, token_limits
from policies import Permission, public
from policies.decorators import client_caller, client_or_token
from policies.problems import Problem

bp = APIBlueprint("oauth", __name__, url_prefix="/auth", abp_tags=[Tag(name="oauth")])

TOKEN_ENDPOINT = "oauth.token"


@bp.post(
    "/token",
    responses={200: TokenOut, 400: OAuthErrorOut, 401: OAuthErrorOut},
    operation_id="issueToken",
    # client_secret_basic, or client_secret_post in the body (no scheme describes that one)
    security=[{BASIC_SCHEME: []}, {}],
    openapi_extensions={"requestBody": token_request_body_schema(), OAUTH_ERRORS_EXTENSION: True},
)
@public("OAuth 2.0 client credentials: the client authenticates in the request")
@token_limits()
def token() -> Response:
    """Exchange a client's id and secret (HTTP Basic or the body) for an access token.

    Form or JSON body: `grant_type=client_credentials`, optional `scope` (space-separated,
    a subset of the client's scopes). Errors are RFC 6749 §5.2 `{"error", "error_description"}`;
    over a rate limit, a 429 problem `rate_limited` that also carries `"error": "slow_down"`.
    """
    params = request_params()
    credentials = client_credentials_from_request(params)
    issued = service.issue_client_token(
        db_session(), params, credentials, secret_key=client_secret_key(), settings=settings()
    )
    return no_store(jsonify(issued))


@bp.post(
    "/introspect",
    responses={200: IntrospectionOut, 400: OAuthErrorOut, 401: OAuthErrorOut},
    operation_id="introspectToken",
    security=[{BASIC_SCHEME: []}, {BEARER_SCHEME: []}],
    openapi_extensions={"requestBody": introspection_request_body_schema()},
)
# Over the policy, not under it: the policy checks the client's secret, and API.md wants
# the 429 before any secret is checked (guesses at a client's secret are counted per client).
@introspect_limits()
@client_or_token(Permission.TOKENS_INTROSPECT, Permission.PLATFORM_READ)
def introspect() -> Response:
    """Is this token active? A form `token` (JSON is accepted too).

    The caller is a client holding tokens:introspect, authenticating with its credentials
    (Basic or body) or its own access token (it sees its own tenant's tokens only), or an
    access token holding platform:read (sees every tenant's)."""
    params = request_params()
    caller = client_caller()
    visible_tenant = caller.tenant_id if caller is not None else None
    token = params.get("token")
    if not isinstance(token, str):
        raise invalid_request("The token parameter is required.")
    return no_store(jsonify(introspection.describe(token, visible_tenant)))


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
        return no_store(render_problem(slow_down(retry_after)))
    return render_problem(RateLimited(retry_after))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Response:
    if request.endpoint == TOKEN_ENDPOINT:
        return render_oauth_error(oauth_error_from(exc))
    return problem_response(413, "payload_too_large", exc.description or "The request body is too large.")
