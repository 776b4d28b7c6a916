"""The two seams into flask-jwt-extended (app.security.jwt_seams) hold for the pinned
release: if an upgrade moves either, these fail before anything is trusted to it."""

import inspect
from importlib.metadata import version

import flask_jwt_extended.view_decorators as view_decorators
import jwt
import pytest
from flask_jwt_extended import JWTManager, get_jwt

from app.security import jwt_seams
from app.security.tokens import HardenedJWTManager
from policies.principal import VerifiedClaims, principal_of
from tests.conftest import bearer
from tests.factories import TenantFactory, UserFactory


def test_flask_jwt_extended_is_the_pinned_minor_release():
    major, minor, *_ = version("flask-jwt-extended").split(".")

    assert (major, minor) == ("4", "7"), "re-check app/security/jwt_seams.py against the new release"


def test_the_decode_seam_keeps_its_signature():
    ours = inspect.signature(HardenedJWTManager._decode_jwt_from_config)
    theirs = inspect.signature(JWTManager._decode_jwt_from_config)

    assert (
        list(ours.parameters)
        == list(theirs.parameters)
        == [
            "self",
            "encoded_token",
            "csrf_value",
            "allow_expired",
        ]
    )


def test_the_header_seam_is_the_name_the_request_decoder_calls(app):
    source = inspect.getsource(view_decorators._decode_jwt_from_request)

    assert "decode_token(encoded_token, csrf_token)" in source
    assert "jwt_header = get_unverified_jwt_headers(encoded_token)" in source
    assert view_decorators.get_unverified_jwt_headers is jwt_seams.verified_header


def test_a_token_the_request_did_not_verify_is_parsed_as_before(app):
    token = jwt.encode({"sub": "x"}, "a-secret-of-thirty-two-bytes-or-more", headers={"kid": "k1"})

    with app.test_request_context():
        assert jwt_seams.verified_header(token) == jwt.get_unverified_header(token)
    with pytest.raises(jwt.DecodeError):
        jwt_seams.verified_header("not.a-token")


def test_a_repeated_token_reuses_its_verified_claims_and_principal(app, client, db, login):
    user = UserFactory(tenant=TenantFactory(slug="seams"), username="carol", roles=["member"])
    headers = bearer(login(user)["access_token"])
    seen = []

    for _ in range(2):
        assert client.get("/auth/me", headers=headers).status_code == 200
    with app.test_request_context("/auth/me", headers=headers):
        view_decorators.verify_jwt_in_request()
        claims = get_jwt()
        seen.append(principal_of(claims))
    with app.test_request_context("/auth/me", headers=headers):
        view_decorators.verify_jwt_in_request()
        seen.append(principal_of(get_jwt()))

    assert isinstance(claims, VerifiedClaims)
    assert seen[0] is seen[1]
    with pytest.raises(TypeError):
        claims["permissions"] = ["platform:write"]
