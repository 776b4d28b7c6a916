"""`POST /auth/token`: OAuth 2.0 client credentials (RFC 6749 §4.4) for integrations."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

bp = APIBlueprint("oauth", __name__, url_prefix="/auth", abp_tags=[Tag(name="oauth")])
