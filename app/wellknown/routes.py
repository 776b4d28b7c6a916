"""`/.well-known/*`: our public keys (RFC 7517) and authorization server metadata (RFC 8414)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_openapi3 import APIBlueprint, Tag

from app.catalog.store import application_names
from app.security import settings
from app.security.keys import JWKS_MAX_AGE, JWKS_STALE_WHILE_REVALIDATE
from app.security.tokens import key_ring
from app.wellknown.schemas import AuthorizationServerMetadataOut, JwksOut
from policies import public
from policies.catalog import TENANT_PERMISSIONS

bp = APIBlueprint("wellknown", __name__, url_prefix="/.well-known", abp_tags=[Tag(name="discovery")])

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


# Public keys may be cached briefly: the one response that is not no-store.
JWKS_CACHE_CONTROL = f"public, max-age={JWKS_MAX_AGE}, stale-while-revalidate={JWKS_STALE_WHILE_REVALIDATE}"


@bp.get("/jwks.json", responses={200: JwksOut}, operation_id="getJwks")
@public("public keys, for services that verify our tokens offline")
def jwks() -> Response:
    """The JSON Web Key Set of every key that may have signed a still-valid token."""
    ring = key_ring()
    ring.refresh()
    response = jsonify(ring.public_jwks())
    response.headers["Cache-Control"] = JWKS_CACHE_CONTROL
    response.add_etag()  # a revalidation costs a 304
    response.make_conditional(request)
    return response


@bp.get(
    "/oauth-authorization-server",
    responses={200: AuthorizationServerMetadataOut},
    operation_id="getAuthorizationServerMetadata",
)
@public("authorization server metadata (RFC 8414)")
def authorization_server_metadata() -> dict[str, Any]:
    """Where our endpoints are and what they support, for OAuth 2.0 client libraries."""
    config = settings()
    base = config.issuer.rstrip("/")
    return {
        "issuer": config.issuer,
        "token_endpoint": f"{base}/auth/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "introspection_endpoint": f"{base}/auth/introspect",
        "grant_types_supported": ["client_credentials"],
        # No authorization endpoint: machine clients only (RFC 6749 §4.4).
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        # Application permissions are scopes a client may hold too (API.md, Application permission).
        "scopes_supported": sorted({str(p) for p in TENANT_PERMISSIONS} | application_names()),
        "service_documentation": f"{base}/docs",
    }
