"""What the discovery endpoints answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class JwkOut(BaseModel):
    """A public JSON Web Key (RFC 7517 §4); members depend on the key type (RFC 7518 §6)."""

    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str
    alg: str
    use: str
    key_ops: list[str] | None = None
    n: str | None = None
    e: str | None = None
    crv: str | None = None
    x: str | None = None
    y: str | None = None


class JwksOut(BaseModel):
    keys: list[JwkOut]


class AuthorizationServerMetadataOut(BaseModel):
    """RFC 8414 §2 (the members we publish)."""

    model_config = ConfigDict(extra="allow")

    issuer: str
    token_endpoint: str
    jwks_uri: str
    introspection_endpoint: str
    grant_types_supported: list[str]
    response_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    scopes_supported: list[str]
    service_documentation: str
