"""Attacks on bearer tokens: every forged, stale, misused or malformed token is a 401
problem with a Bearer challenge (RFC 6750 §3.1, RFC 8725), never a 200, 422 or 500.

Forged tokens are signed with the app's real active key wherever possible, so that the
one thing wrong with each is the thing the test names.
"""

import base64
import hashlib
import hmac
import json
import time
from functools import cache

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.security.tokens import safe_additional_claims
from app.services import services
from tests.conftest import bearer
from tests.factories import TenantFactory, UserFactory
from tests.matrix_world import signed_claims

PROBLEM = "application/problem+json"
NONE_CASINGS = ["none", "None", "NONE", "nOnE"]


# --- crafting tokens by hand ------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def compact(header, claims, signature: bytes = b"") -> str:
    return f"{segment(header)}.{segment(claims)}.{b64url(signature)}"


def signing_input(header, claims) -> bytes:
    return f"{segment(header)}.{segment(claims)}".encode()


def rsa_signed(private_key, header, claims) -> str:
    """An RS256 signature over whatever the header says, so the header can lie."""
    signature = private_key.sign(signing_input(header, claims), padding.PKCS1v15(), hashes.SHA256())
    return compact(header, claims, signature)


def hmac_signed(secret: bytes, header, claims) -> str:
    signature = hmac.new(secret, signing_input(header, claims), hashlib.sha256).digest()
    return compact(header, claims, signature)


def our_header(key, **extra):
    return {"alg": key.algorithm.value, "typ": "at+jwt", "kid": key.kid, **extra}


def sign(key, claims, **extra_headers) -> str:
    """A token signed by our real key with our alg and kid, plus `extra_headers`.

    Built by hand: PyJWT would refuse to encode some of the malformed claims we send."""
    return rsa_signed(key.signing_material, our_header(key, **extra_headers), claims)


@cache
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key, fmt: serialization.PublicFormat) -> bytes:
    return key.verification_material.public_bytes(serialization.Encoding.PEM, fmt)


def now() -> int:
    return int(time.time())


# --- fixtures and the one assertion -----------------------------------------------------


@pytest.fixture
def user(db):
    return UserFactory(tenant=TenantFactory(), roles=["member"])


@pytest.fixture
def tokens(login, user):
    return login(user)


@pytest.fixture
def claims(app, tokens):
    """The claims of a real access token, to be altered one at a time."""
    return signed_claims(app, tokens["access_token"])


@pytest.fixture
def key(app):
    key = services(app).key_ring.active
    assert key.algorithm.value == "RS256", "the forging helpers sign with RS256"
    return key


@pytest.fixture
def me(client):
    def get_me(token: str, api=None):
        return (api or client).get("/auth/me", headers=bearer(token))

    return get_me


def assert_refused(response, token: str, code: str = "token_invalid") -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 401, body
    assert response.mimetype == PROBLEM
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer "), challenge
    if code != "token_missing":
        assert 'error="invalid_token"' in challenge  # RFC 6750 §3.1
    problem = response.get_json()
    assert problem["code"] == code, problem
    assert problem["status"] == 401
    if token:
        assert token not in body


# --- the control: the forging machinery makes tokens we accept ---------------------------


def test_a_token_signed_like_ours_is_accepted(me, key, claims):
    assert me(sign(key, claims)).status_code == 200


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_an_access_token_typ_is_read_as_a_media_type(me, key, claims, typ):
    """RFC 9068 §4: `at+jwt` or `application/at+jwt`; media types are case-insensitive and
    `application/` is implied without a slash (RFC 7515 §4.1.9)."""
    assert me(sign(key, claims, typ=typ)).status_code == 200


@pytest.mark.parametrize(
    "typ", ["text/at+jwt", "at+jwt+x", "rt+jwt", "application/rt+jwt", "", 7, ["at+jwt"]]
)
def test_a_typ_naming_another_media_type_is_refused(me, key, claims, typ):
    token = sign(key, claims, typ=typ)
    assert_refused(me(token), token)


def test_a_real_access_token_is_accepted(me, tokens):
    assert me(tokens["access_token"]).status_code == 200


# --- time and issuer --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "offset", "code"),
    [
        pytest.param("exp", -3600, "token_expired", id="expired-an-hour-ago"),
        pytest.param("exp", -60, "token_expired", id="expired-beyond-the-leeway"),
        pytest.param("nbf", 3600, "token_invalid", id="not-valid-for-an-hour"),
        pytest.param("nbf", 60, "token_invalid", id="not-yet-valid-beyond-the-leeway"),
        pytest.param("iat", 3600, "token_invalid", id="issued-in-the-future"),
    ],
)
def test_a_token_outside_its_lifetime_is_refused(me, key, claims, claim, offset, code):
    token = sign(key, {**claims, claim: now() + offset})
    assert_refused(me(token), token, code)


@pytest.mark.parametrize(
    "issuer",
    [
        pytest.param("https://evil.test", id="another-issuer"),
        pytest.param("https://authz.test/", id="trailing-slash"),
        pytest.param("https://authz.tes", id="prefix-of-ours"),
        pytest.param("HTTPS://AUTHZ.TEST", id="other-case"),
        pytest.param(["https://authz.test"], id="list-holding-ours"),
    ],
)
def test_a_token_from_another_issuer_is_refused(me, key, claims, issuer):
    token = sign(key, {**claims, "iss": issuer})
    assert_refused(me(token), token)


# --- audience ---------------------------------------------------------------------------


@pytest.fixture
def audience_api(make_client, make_settings):
    return make_client(make_settings(audience="api://a"))


@pytest.fixture
def audience_claims(login, user, audience_api):
    token = login(user, api=audience_api)["access_token"]
    return signed_claims(audience_api.application, token)


def test_a_token_for_our_audience_is_accepted(me, key, audience_api, audience_claims):
    assert audience_claims["aud"] == "api://a"
    assert me(sign(key, audience_claims), api=audience_api).status_code == 200


@pytest.mark.parametrize(
    "audience",
    [
        pytest.param("api://b", id="another-audience"),
        pytest.param(["api://b"], id="list-of-another-audience"),
        pytest.param("api://", id="prefix-of-ours"),
        pytest.param("api://a/", id="trailing-slash"),
    ],
)
def test_a_token_for_another_audience_is_refused(me, key, audience_api, audience_claims, audience):
    token = sign(key, {**audience_claims, "aud": audience})
    assert_refused(me(token, api=audience_api), token)


def test_a_token_without_audience_is_refused_where_one_is_configured(me, key, audience_api, audience_claims):
    del audience_claims["aud"]
    token = sign(key, audience_claims)
    assert_refused(me(token, api=audience_api), token)


# --- algorithm confusion and forged signatures ------------------------------------------


@pytest.mark.parametrize("alg", NONE_CASINGS)
@pytest.mark.parametrize("signed", [False, True], ids=["no-signature", "with-our-signature"])
def test_alg_none_is_refused(me, key, claims, alg, signed):
    header = our_header(key, alg=alg)
    token = rsa_signed(key.signing_material, header, claims) if signed else compact(header, claims)
    assert_refused(me(token), token)


def hs256_keyed_with_our_public_key_pem(key, claims):
    pem = public_pem(key, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hmac_signed(pem, our_header(key, alg="HS256"), claims)


def hs256_keyed_with_our_public_key_pkcs1_pem(key, claims):
    pem = public_pem(key, serialization.PublicFormat.PKCS1)
    return hmac_signed(pem, our_header(key, alg="HS256"), claims)


def rs512_signed_with_our_own_key(key, claims):
    return jwt.encode(claims, key.signing_material, algorithm="RS512", headers={"kid": key.kid})


def ps256_signed_with_our_own_key(key, claims):
    return jwt.encode(claims, key.signing_material, algorithm="PS256", headers={"kid": key.kid})


def no_alg_header(key, claims):
    header = our_header(key)
    del header["alg"]
    return rsa_signed(key.signing_material, header, claims)


def signature_stripped(key, claims):
    header, payload, _signature = sign(key, claims).split(".")
    return f"{header}.{payload}."


def signature_segment_removed(key, claims):
    header, payload, _signature = sign(key, claims).split(".")
    return f"{header}.{payload}"


def signature_of_another_key_with_our_kid(key, claims):
    return jwt.encode(claims, attacker_key(), algorithm="RS256", headers={"kid": key.kid})


def payload_escalated_after_signing(key, claims):
    header, _payload, signature = sign(key, claims).split(".")
    escalated = {**claims, "roles": ["admin"], "permissions": ["users:write"]}
    return f"{header}.{segment(escalated)}.{signature}"


def unknown_kid(key, claims):
    return jwt.encode(claims, key.signing_material, algorithm="RS256", headers={"kid": "not-our-key"})


def missing_kid(key, claims):
    return jwt.encode(claims, key.signing_material, algorithm="RS256")


def kid_not_a_string(key, claims):
    return sign(key, claims, kid=[key.kid])


def attacker_jwk_embedded_and_used(key, claims):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker_key().public_key()))
    return jwt.encode(claims, attacker_key(), algorithm="RS256", headers={"kid": key.kid, "jwk": jwk})


def header_not_a_json_object(key, claims):
    return f"{b64url(b'[]')}.{segment(claims)}.{b64url(b'sig')}"


def payload_not_a_json_object(key, claims):
    return jwt.PyJWS().encode(b"[]", key.signing_material, algorithm="RS256", headers={"kid": key.kid})


def not_a_jwt(key, claims):
    return "not-a-jwt"


def three_garbage_segments(key, claims):
    return "garbage.garbage.garbage"


@pytest.mark.parametrize(
    "forge",
    [
        hs256_keyed_with_our_public_key_pem,
        hs256_keyed_with_our_public_key_pkcs1_pem,
        rs512_signed_with_our_own_key,
        ps256_signed_with_our_own_key,
        no_alg_header,
        signature_stripped,
        signature_segment_removed,
        signature_of_another_key_with_our_kid,
        payload_escalated_after_signing,
        unknown_kid,
        missing_kid,
        kid_not_a_string,
        attacker_jwk_embedded_and_used,
        header_not_a_json_object,
        payload_not_a_json_object,
        not_a_jwt,
        three_garbage_segments,
    ],
    ids=lambda forge: forge.__name__.replace("_", "-"),
)
def test_a_forged_token_is_refused(me, key, claims, forge):
    token = forge(key, claims)
    assert_refused(me(token), token)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        pytest.param("jku", "https://evil.test/jwks.json", id="jku"),
        pytest.param("x5u", "https://evil.test/cert.pem", id="x5u"),
        pytest.param("jwk", None, id="jwk"),
        pytest.param("x5c", ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"], id="x5c"),
    ],
)
def test_a_token_naming_its_own_key_is_refused_even_when_signed_by_ours(me, key, claims, header, value):
    # RFC 8725 §3.10: the key comes from our ring, never from the token (here it is even ours).
    token = sign(key, claims, **{header: value if value is not None else key.public_jwk})
    assert_refused(me(token), token)


# --- claims: missing, null, malformed ----------------------------------------------------

REQUIRED_CLAIMS = [
    "tenant_id",
    "permissions",
    "roles",
    "authz_ver",
    "sub",
    "exp",
    "iat",
    "nbf",
    "jti",
    "iss",
    "type",
]


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_a_validly_signed_token_lacking_a_required_claim_is_refused(me, key, claims, claim):
    del claims[claim]
    token = sign(key, claims)
    assert_refused(me(token), token)


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_a_validly_signed_token_with_a_null_required_claim_is_refused(me, key, claims, claim):
    token = sign(key, {**claims, claim: None})
    assert_refused(me(token), token)


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        pytest.param("permissions", "projects:read", id="permissions-a-string"),
        pytest.param("permissions", {"projects:read": True}, id="permissions-an-object"),
        pytest.param("permissions", ["projects:read", "root"], id="permissions-unknown-name"),
        pytest.param("permissions", ["projects:read", 5], id="permissions-not-strings"),
        pytest.param("permissions", [["projects:read"]], id="permissions-nested-list"),
        pytest.param("roles", "member", id="roles-a-string"),
        pytest.param("roles", [{"name": "admin"}], id="roles-not-strings"),
        pytest.param("tenant_id", "not-a-uuid", id="tenant-id-not-a-uuid"),
        pytest.param("tenant_id", 42, id="tenant-id-a-number"),
        pytest.param("tenant_id", ["x"], id="tenant-id-a-list"),
        pytest.param("sid", "not-a-uuid", id="sid-not-a-uuid"),
        pytest.param("authz_ver", "1", id="authz-ver-a-string"),
        pytest.param("sub", 123, id="sub-a-number"),
        pytest.param("jti", 5, id="jti-a-number"),
        pytest.param("type", "id", id="type-unknown"),
        pytest.param("type", ["access"], id="type-a-list"),
        pytest.param("exp", "tomorrow", id="exp-a-word"),
        pytest.param("exp", [9999999999], id="exp-a-list"),
        pytest.param("nbf", "now", id="nbf-a-word"),
        pytest.param("iat", {"t": 1}, id="iat-an-object"),
        pytest.param("iat", 1.5, id="iat-a-float"),
    ],
)
def test_a_validly_signed_token_with_a_malformed_claim_is_refused(me, key, claims, claim, value):
    token = sign(key, {**claims, claim: value})
    assert_refused(me(token), token)


def test_a_user_token_stripped_of_its_session_is_refused(me, key, claims):
    del claims["sid"]
    token = sign(key, claims)
    assert_refused(me(token), token)


# --- the Authorization header -----------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        pytest.param(None, "token_missing", id="no-header"),
        pytest.param("", "token_missing", id="empty-header"),
        pytest.param("Basic dXNlcjpwYXNz", "token_missing", id="basic-scheme"),
        pytest.param("Bearer", "token_invalid", id="bearer-without-token"),
        pytest.param("Bearer a b", "token_invalid", id="bearer-with-two-tokens"),
        pytest.param("bearer", "token_invalid", id="lowercase-bearer-without-token"),
        pytest.param("BEARER a b", "token_invalid", id="uppercase-bearer-with-two-tokens"),
        pytest.param("bearerx.y.z", "token_missing", id="scheme-run-into-the-token"),
        pytest.param("Bearers x.y.z", "token_missing", id="another-scheme"),
    ],
)
def test_a_missing_or_malformed_authorization_header_is_refused(client, db, authorization, code):
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_refused(client.get("/auth/me", headers=headers), "", code)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr", "Bearer"])
def test_the_bearer_scheme_is_case_insensitive(client, tokens, scheme):
    # RFC 9110 §11.1; flask-jwt-extended alone compares the scheme exactly (issue 14, item 7).
    response = client.get("/auth/me", headers={"Authorization": f"{scheme} {tokens['access_token']}"})

    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_lowercase_scheme_reaches_a_refresh_route(client, tokens):
    refreshed = client.post("/auth/refresh", headers={"Authorization": f"bearer {tokens['refresh_token']}"})

    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)


def test_a_lowercase_scheme_with_a_bad_token_is_still_refused(client, db):
    assert_refused(client.get("/auth/me", headers={"Authorization": "bearer not.a.token"}), "not.a.token")


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(", ,", id="only-commas"),
        pytest.param(", ,Bearer x", id="blank-field-before-bearer"),
    ],
)
def test_an_authorization_header_with_a_blank_field_is_refused_not_a_500(client, db, authorization):
    response = client.get("/auth/me", headers={"Authorization": authorization})
    assert response.status_code == 401, f"{response.status_code}: a garbled header must be a 401, not a crash"
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert response.get_json()["code"] in {"token_missing", "token_invalid"}


# --- token types and revocation -------------------------------------------------------


@pytest.fixture
def tenant_projects(user):
    return f"/tenants/{user.tenant_id}/projects"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("get", "/auth/me", id="get-me"),
        pytest.param("post", "/auth/logout", id="logout"),
        pytest.param("get", "/permissions", id="permissions"),
        pytest.param("get", "/protected", id="tutorial-protected"),
        pytest.param("get", "{projects}", id="tenant-projects"),
    ],
)
def test_a_refresh_token_is_refused_where_an_access_token_is_expected(
    client, tokens, tenant_projects, method, path
):
    token = tokens["refresh_token"]
    response = client.open(path.format(projects=tenant_projects), method=method, headers=bearer(token))
    assert_refused(response, token)


def test_an_access_token_is_refused_on_refresh(client, tokens):
    token = tokens["access_token"]
    assert_refused(client.post("/auth/refresh", headers=bearer(token)), token)


def test_a_refresh_token_still_works_on_refresh_after_being_refused_elsewhere(client, me, tokens):
    me(tokens["refresh_token"])
    assert client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200


def test_an_access_token_of_a_logged_out_session_is_revoked(client, me, tokens):
    token = tokens["access_token"]
    assert client.post("/auth/logout", headers=bearer(token)).status_code == 204
    assert_refused(me(token), token, "token_revoked")


def test_a_refresh_token_of_a_logged_out_session_is_revoked(client, tokens):
    assert client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    token = tokens["refresh_token"]
    assert_refused(client.post("/auth/refresh", headers=bearer(token)), token, "token_revoked")


def test_a_re_signed_token_of_a_logged_out_session_is_still_revoked(client, me, key, claims, tokens):
    assert client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    token = sign(key, {**claims, "jti": "fresh-jti", "iat": now(), "nbf": now()})
    assert_refused(me(token), token, "token_revoked")


# --- additional claims can never override registered ones --------------------------------


@pytest.mark.parametrize("claim", ["sub", "type", "exp", "iss", "jti", "iat", "nbf", "aud", "fresh", "csrf"])
def test_safe_additional_claims_refuses_a_registered_claim(claim):
    with pytest.raises(ValueError, match=claim):
        safe_additional_claims({"tenant_id": "t", claim: "forged"})


@pytest.mark.parametrize("claim", ["is_admin", "scopes", "role", "tenant", "Permissions", ""])
def test_safe_additional_claims_refuses_an_unknown_claim(claim):
    with pytest.raises(ValueError, match="refusing"):
        safe_additional_claims({"roles": [], claim: "forged"})


def test_safe_additional_claims_passes_our_own_claims_through():
    ours = {"tenant_id": "t", "roles": [], "permissions": [], "authz_ver": 1, "sid": "s", "client_id": "c"}
    assert safe_additional_claims(ours) == ours
