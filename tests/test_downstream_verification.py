"""A separate downstream service verifies our tokens with PyJWT's PyJWKClient and nothing of
ours: it knows only our issuer URL and fetches the metadata and the key set over HTTP, and
validates access tokens as RFC 9068 §4 says (`typ`, `iss`, `aud`, signature, expiry)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import jwt
import pytest
from jwt import PyJWKClient

from app.services import services
from tests.conftest import bearer
from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory, TenantFactory, UserFactory
from tests.matrix_world import signed_claims
from tests.servers import serve_in_thread

ISSUER = "https://authz.test"  # the test settings' issuer; AUTHZ_AUDIENCE unset: aud is the issuer


def rfc9068_validate(token: str, jwks: PyJWKClient, issuer: str, audience: str) -> dict[str, Any]:
    """What a resource server does with a bearer token (RFC 9068 §4), in PyJWT only."""
    header = jwt.get_unverified_header(token)
    if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
        raise jwt.InvalidTokenError(f"not an access token: typ {header.get('typ')!r}")
    return jwt.decode(
        token,
        jwks.get_signing_key_from_jwt(token).key,
        algorithms=["RS256", "ES256", "EdDSA"],
        issuer=issuer,
        audience=audience,
        options={"require": ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"]},
    )


def discover(base: str) -> tuple[dict[str, Any], PyJWKClient]:
    with urllib.request.urlopen(f"{base}/.well-known/oauth-authorization-server") as response:  # noqa: S310
        metadata = json.load(response)
    return metadata, PyJWKClient(metadata["jwks_uri"].replace(metadata["issuer"], base))


def test_a_downstream_service_validates_our_access_tokens_by_rfc_9068(app, login, db):
    tokens = login(UserFactory(roles=["member"]))

    with serve_in_thread(app) as base:
        metadata, jwks = discover(base)
        claims = rfc9068_validate(tokens["access_token"], jwks, metadata["issuer"], ISSUER)

    assert claims["type"] == "access"
    assert claims["aud"] == ISSUER
    assert claims["client_id"] == "authz-login"  # a user's own login: our first-party client
    assert "projects:read" in claims["permissions"]


def test_a_downstream_service_refuses_a_refresh_token_as_an_access_token(app, login, db):
    refresh = login(UserFactory(roles=["member"]))["refresh_token"]

    with serve_in_thread(app) as base:
        metadata, jwks = discover(base)
        with pytest.raises(jwt.InvalidTokenError, match="not an access token"):
            rfc9068_validate(refresh, jwks, metadata["issuer"], ISSUER)
        # a validator that forgets the `typ` check still refuses it: another audience
        with pytest.raises(jwt.InvalidAudienceError):
            jwt.decode(
                refresh,
                jwks.get_signing_key_from_jwt(refresh).key,
                algorithms=["RS256"],
                issuer=metadata["issuer"],
                audience=ISSUER,
            )

    assert jwt.get_unverified_header(refresh)["typ"] == "rt+jwt"
    assert signed_claims(app, refresh)["aud"] == f"{ISSUER}/auth/refresh"


def test_an_integration_clients_token_carries_client_id_and_scope(app, client, db):
    integration = ClientFactory(tenant=TenantFactory(), scopes=["projects:read", "users:read"])
    issued = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(integration.client_id, DEFAULT_CLIENT_SECRET),
    ).get_json()

    with serve_in_thread(app) as base:
        metadata, jwks = discover(base)
        claims = rfc9068_validate(issued["access_token"], jwks, metadata["issuer"], ISSUER)

    assert claims["client_id"] == claims["sub"] == integration.client_id
    assert claims["scope"] == "projects:read users:read"


def test_a_configured_audience_is_the_access_tokens_audience(make_client, make_settings, login, db):
    api = make_client(make_settings(audience="https://api.example"))
    tokens = login(UserFactory(roles=["member"]), api=api)

    access = signed_claims(api.application, tokens["access_token"])
    refresh = signed_claims(api.application, tokens["refresh_token"])

    assert access["aud"] == "https://api.example"
    assert refresh["aud"] == f"{ISSUER}/auth/refresh"
    assert api.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert api.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200


def test_a_downstream_service_refuses_a_token_signed_by_someone_else(app):
    from cryptography.hazmat.primitives.asymmetric import rsa

    kid = services(app).key_ring.active.kid
    forged = jwt.encode(
        {"sub": "x", "iss": ISSUER},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": kid},
    )

    with serve_in_thread(app) as base:
        signing_key = PyJWKClient(f"{base}/.well-known/jwks.json").get_signing_key_from_jwt(forged)

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, signing_key.key, algorithms=["RS256"], issuer=ISSUER)


# --- the rolling change: tokens signed before RFC 9068 typing work until they expire -----


def legacy_token(app, current: str, *, audience: str | None = None) -> str:
    """`current` re-signed as tokens were before: typ JWT, no client_id or scope, and `aud`
    only when an audience was configured."""
    claims = signed_claims(app, current)
    for name in ("aud", "client_id", "scope"):
        claims.pop(name, None)
    if audience is not None:
        claims["aud"] = audience
    key = services(app).key_ring.active
    return jwt.encode(
        claims, key.signing_material, algorithm=key.algorithm.value, headers={"kid": key.kid, "typ": "JWT"}
    )


def test_access_and_refresh_tokens_issued_before_the_change_keep_working(app, client, login, db):
    tokens = login(UserFactory(roles=["member"]))
    old_access = legacy_token(app, tokens["access_token"])
    old_refresh = legacy_token(app, tokens["refresh_token"])

    assert client.get("/auth/me", headers=bearer(old_access)).status_code == 200
    rotated = client.post("/auth/refresh", headers=bearer(old_refresh))
    assert rotated.status_code == 200
    assert jwt.get_unverified_header(rotated.get_json()["access_token"])["typ"] == "at+jwt"


def test_tokens_issued_before_the_change_under_a_configured_audience_keep_working(
    make_client, make_settings, login, db
):
    app_settings = make_settings(audience="https://api.example")
    api = make_client(app_settings)
    tokens = login(UserFactory(roles=["member"]), api=api)
    old_access = legacy_token(api.application, tokens["access_token"], audience="https://api.example")
    old_refresh = legacy_token(api.application, tokens["refresh_token"], audience="https://api.example")

    assert api.get("/auth/me", headers=bearer(old_access)).status_code == 200
    assert api.post("/auth/refresh", headers=bearer(old_refresh)).status_code == 200


def test_an_old_style_token_still_expires(app, client, login, db):
    tokens = login(UserFactory(roles=["member"]))
    claims = signed_claims(app, tokens["access_token"])
    claims.update(exp=int(time.time()) - 120, iat=int(time.time()) - 1000, nbf=int(time.time()) - 1000)
    for name in ("aud", "client_id", "scope"):
        claims.pop(name, None)
    key = services(app).key_ring.active
    expired = jwt.encode(
        claims, key.signing_material, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"}
    )

    response = client.get("/auth/me", headers=bearer(expired))

    assert response.status_code == 401
    assert response.get_json()["code"] == "token_expired"


@pytest.mark.parametrize(
    ("typ", "kind", "aud"),
    [
        pytest.param("rt+jwt", "access", ISSUER, id="access-claims-typed-as-refresh"),
        pytest.param("at+jwt", "access", f"{ISSUER}/auth/refresh", id="access-with-the-refresh-audience"),
        pytest.param("at+jwt", "access", None, id="typed-access-without-aud"),
        pytest.param("JWT", "access", ISSUER, id="untyped-with-a-new-audience"),
        pytest.param("jwt+custom", "access", ISSUER, id="unknown-typ"),
    ],
)
def test_a_token_whose_typ_and_audience_disagree_with_its_kind_is_refused(
    app, client, login, db, typ, kind, aud
):
    tokens = login(UserFactory(roles=["member"]))
    claims = signed_claims(app, tokens["access_token"])
    claims.pop("aud")
    if aud is not None:
        claims["aud"] = aud
    key = services(app).key_ring.active
    token = jwt.encode(claims, key.signing_material, algorithm="RS256", headers={"kid": key.kid, "typ": typ})

    response = client.get("/auth/me", headers=bearer(token))

    assert response.status_code == 401
    assert response.get_json()["code"] == "token_invalid"
