"""Signing keys: kid in every header, rotation without logging anyone out, pruning, JWKS,
and RFC 8414 metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app import create_app
from app.security.key_store import RETIRED_SUFFIX, KeyStore
from tests.conftest import bearer
from tests.factories import UserFactory


@pytest.fixture
def own_keys(tmp_path, make_settings, bind_app, db):
    """An app with a key directory of its own, so that rotating does not touch other tests."""
    settings = make_settings(key_dir=tmp_path / "keys")
    app = bind_app(create_app(settings, TESTING=True))
    store = KeyStore(tmp_path / "keys", settings.jwt_algorithm, settings.refresh_token_ttl)
    return app, store


def login_to(api, user):
    from tests.conftest import PASSWORD

    response = api.post(
        "/auth/login", json={"tenant": user.tenant.slug, "username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    return response.get_json()


def kid_of(token):
    return jwt.get_unverified_header(token)["kid"]


def test_rotation_keeps_older_tokens_valid_and_signs_new_ones_with_the_new_key(own_keys, monkeypatch):
    app, store = own_keys
    api = app.test_client()
    user = UserFactory()
    before = login_to(api, user)

    new_kid = store.rotate()
    monkeypatch.setattr("app.security.key_store.RELOAD_CHECK_SECONDS", 0)
    after = login_to(api, user)

    assert kid_of(after["access_token"]) == new_kid != kid_of(before["access_token"])
    assert api.get("/auth/me", headers=bearer(before["access_token"])).status_code == 200
    assert api.get("/auth/me", headers=bearer(after["access_token"])).status_code == 200
    assert api.post("/auth/refresh", headers=bearer(before["refresh_token"])).status_code == 200
    kids = {key["kid"] for key in api.get("/.well-known/jwks.json").get_json()["keys"]}
    assert kids == {kid_of(before["access_token"]), new_kid}


def test_a_worker_that_missed_the_rotation_accepts_the_new_key_on_first_sight(
    own_keys, make_settings, bind_app
):
    app, store = own_keys
    other_worker = bind_app(create_app(make_settings(key_dir=store.key_dir), TESTING=True)).test_client()
    user = UserFactory()
    store.rotate()

    import app.security.key_store as key_store

    key_store.RELOAD_CHECK_SECONDS, saved = 0, key_store.RELOAD_CHECK_SECONDS
    try:
        token = login_to(app.test_client(), user)["access_token"]
        response = other_worker.get("/auth/me", headers=bearer(token))
    finally:
        key_store.RELOAD_CHECK_SECONDS = saved

    assert response.status_code == 200


def test_retired_keys_leave_once_no_token_they_signed_can_be_valid(own_keys):
    _app, store = own_keys
    first = store.list()[0].kid
    store.rotate()

    assert store.prune() == []  # its tokens may still be valid
    long_ago = datetime.now(UTC) - store.retention - timedelta(seconds=1)
    (store.key_dir / f"{first}{RETIRED_SUFFIX}").write_text(long_ago.isoformat())

    assert store.prune() == [first]
    assert first not in {stored.kid for stored in store.list()}
    assert first not in store.load().kids


def test_keys_cli_rotates_lists_and_prunes(own_keys):
    app, _store = own_keys
    runner = app.test_cli_runner()

    rotated = runner.invoke(args=["keys", "rotate"])
    listed = runner.invoke(args=["keys", "list"])
    pruned = runner.invoke(args=["keys", "prune"])

    assert rotated.exit_code == 0, rotated.output
    assert "new active key" in rotated.output
    assert listed.output.count("\n") == 2
    assert "active" in listed.output
    assert "retired" in listed.output
    assert "removed 0 key(s)" in pruned.output


def test_jwks_publishes_public_keys_only(client):
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]

    assert keys
    for key in keys:
        assert {"kty", "kid", "alg", "use", "n", "e"} <= set(key)
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_every_token_names_its_key(client, login, db):
    tokens = login(UserFactory())

    assert kid_of(tokens["access_token"]) == kid_of(tokens["refresh_token"])


def test_authorization_server_metadata(client):
    metadata = client.get("/.well-known/oauth-authorization-server").get_json()

    assert metadata["issuer"] == "https://authz.test"
    assert metadata["token_endpoint"] == "https://authz.test/auth/token"
    assert metadata["jwks_uri"] == "https://authz.test/.well-known/jwks.json"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert "platform:write" not in metadata["scopes_supported"]
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]


def test_hs256_deployments_have_no_keys_to_rotate(make_settings, bind_app, db):
    app = bind_app(create_app(make_settings(jwt_algorithm="HS256", secret_key="s" * 48), TESTING=True))

    result = app.test_cli_runner().invoke(args=["keys", "rotate"])

    assert result.exit_code != 0
    assert "HS256" in result.output


def test_hs256_tokens_work_end_to_end(make_settings, bind_app, db):
    app = bind_app(create_app(make_settings(jwt_algorithm="HS256", secret_key="s" * 48), TESTING=True))
    api = app.test_client()

    token = login_to(api, UserFactory())["access_token"]

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert api.get("/auth/me", headers=bearer(token)).status_code == 200


# --- issue 14, item 11: the JWKS as downstream verifiers and their caches read it -------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_jwks_keys_carry_use_and_not_key_ops(tmp_path, make_settings, bind_app, db, algorithm):
    # RFC 7517 §4.3: "use" and "key_ops" SHOULD NOT be used together.
    settings = make_settings(key_dir=tmp_path / "keys", jwt_algorithm=algorithm)
    app = bind_app(create_app(settings, TESTING=True))

    keys = app.test_client().get("/.well-known/jwks.json").get_json()["keys"]

    assert keys
    for key in keys:
        assert key["use"] == "sig"
        assert "key_ops" not in key


def test_jwks_may_be_cached_briefly_and_revalidated(client):
    first = client.get("/.well-known/jwks.json")
    again = client.get("/.well-known/jwks.json", headers={"If-None-Match": first.headers["ETag"]})

    directives = {d.strip() for d in first.headers["Cache-Control"].split(",")}
    assert directives == {"public", "max-age=300", "stale-while-revalidate=60"}
    assert again.status_code == 304
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]


def test_tokens_and_other_answers_stay_no_store(client, login, db):
    tokens = login(UserFactory())

    me = client.get("/auth/me", headers=bearer(tokens["access_token"]))

    assert me.headers["Cache-Control"] == "no-store"
    assert client.get("/.well-known/oauth-authorization-server").headers["Cache-Control"] == "no-store"


def test_a_staged_key_is_published_before_it_signs(own_keys, monkeypatch):
    app, store = own_keys
    monkeypatch.setattr("app.security.key_store.RELOAD_CHECK_SECONDS", 0)
    api = app.test_client()
    user = UserFactory()
    old_kid = kid_of(login_to(api, user)["access_token"])

    staged = store.stage()
    published = {key["kid"] for key in api.get("/.well-known/jwks.json").get_json()["keys"]}
    still_signing = kid_of(login_to(api, user)["access_token"])
    activated = store.rotate()
    now_signing = kid_of(login_to(api, user)["access_token"])
    after = {key["kid"] for key in api.get("/.well-known/jwks.json").get_json()["keys"]}

    assert published == {old_kid, staged}
    assert still_signing == old_kid
    assert activated == staged == now_signing
    assert after == {old_kid, staged}  # the retired key stays published while its tokens live
    assert store.prune() == []  # a staged or retired key is not pruned before its time


def test_keys_cli_stages_then_rotates_to_the_staged_key(own_keys):
    app, store = own_keys
    runner = app.test_cli_runner()

    staged = runner.invoke(args=["keys", "stage"])
    [kid] = store.staged()
    listed = runner.invoke(args=["keys", "list"])
    rotated = runner.invoke(args=["keys", "rotate"])

    assert staged.exit_code == 0, staged.output
    assert "staged (published, not signing yet)" in listed.output
    assert rotated.exit_code == 0, rotated.output
    assert f"new active key {kid}, staged" in rotated.output
    assert store.staged() == []
