"""`/.well-known/*`: the public keys that verify our tokens (RFC 7517)."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag

from app.security.tokens import key_ring
from policies import public

bp = APIBlueprint("wellknown", __name__, url_prefix="/.well-known", abp_tags=[Tag(name="discovery")])


@bp.get("/jwks.json")
@public("public keys, for services that verify our tokens offline")
def jwks() -> dict[str, Any]:
    """The JSON Web Key Set of every key that may have signed a valid token."""
    return key_ring().public_jwks()
