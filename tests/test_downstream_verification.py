"""A separate downstream service verifies our tokens with PyJWT's PyJWKClient and nothing of
ours: it knows only our issuer URL and fetches the metadata and the key set over HTTP."""

from __future__ import annotations

import json
import urllib.request

import jwt
import pytest
from jwt import PyJWKClient

from tests.factories import UserFactory
from tests.servers import serve_in_thread


def test_a_downstream_service_verifies_our_access_tokens_offline(app, login, db):
    token = login(UserFactory(roles=["member"]))["access_token"]

    with serve_in_thread(app) as base:
        # What a downstream service does, knowing only where we are:
        with urllib.request.urlopen(f"{base}/.well-known/oauth-authorization-server") as response:  # noqa: S310
            metadata = json.load(response)
        jwks_uri = metadata["jwks_uri"].replace(metadata["issuer"], base)
        signing_key = PyJWKClient(jwks_uri).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256", "ES256", "EdDSA"],
            issuer=metadata["issuer"],
            options={"require": ["exp", "iat", "nbf", "iss", "sub"]},
        )

    assert claims["type"] == "access"
    assert "projects:read" in claims["permissions"]


def test_a_downstream_service_refuses_a_token_signed_by_someone_else(app):
    from cryptography.hazmat.primitives.asymmetric import rsa

    kid = app.extensions["authz.keyring"].active.kid
    forged = jwt.encode(
        {"sub": "x", "iss": "https://authz.test"},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": kid},
    )

    with serve_in_thread(app) as base:
        signing_key = PyJWKClient(f"{base}/.well-known/jwks.json").get_signing_key_from_jwt(forged)

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, signing_key.key, algorithms=["RS256"], issuer="https://authz.test")
