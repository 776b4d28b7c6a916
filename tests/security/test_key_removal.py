"""Review: a signing key removed from the key directory keeps verifying on a worker that
only verifies tokens (app/security/tokens.py `_verify` never reloads the ring for a known
`kid`, and the verified-token cache trusts that stale ring)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app import create_app
from app.security.key_store import RETIRED_SUFFIX, KeyStore
from tests.conftest import PASSWORD, bearer
from tests.factories import UserFactory


@pytest.fixture
def two_workers(tmp_path, make_settings, bind_app, db, monkeypatch):
    """Two apps (workers) on one key directory; rotations are noticed at once."""
    monkeypatch.setattr("app.security.key_store.RELOAD_CHECK_SECONDS", 0)
    settings = make_settings(key_dir=tmp_path / "keys")
    signer = bind_app(create_app(settings, TESTING=True)).test_client()
    verifier = bind_app(create_app(settings, TESTING=True)).test_client()
    store = KeyStore(tmp_path / "keys", settings.jwt_algorithm, settings.refresh_token_ttl)
    return signer, verifier, store


def _login(api, user):
    response = api.post(
        "/auth/login", json={"tenant": user.tenant.slug, "username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    return response.get_json()["access_token"]


def _remove_key(store: KeyStore, kid: str) -> None:
    """What an operator does to withdraw a key at once: retire it long ago, then prune."""
    long_ago = datetime.now(UTC) - store.retention - timedelta(seconds=1)
    (store.key_dir / f"{kid}{RETIRED_SUFFIX}").write_text(long_ago.isoformat())
    assert store.prune() == [kid]


def test_a_key_removed_from_the_directory_stops_verifying_on_a_worker_that_only_verifies(two_workers):
    signer, verifier, store = two_workers
    user = UserFactory()
    token = _login(signer, user)
    old_kid = jwt.get_unverified_header(token)["kid"]
    assert verifier.get("/auth/me", headers=bearer(token)).status_code == 200  # now cached

    store.rotate()
    _remove_key(store, old_kid)

    # The signing worker follows the directory (it reloads before signing); the other does not.
    response = verifier.get("/auth/me", headers=bearer(token))

    assert response.status_code == 401, "a token signed by a withdrawn key is still accepted"


def test_a_removed_key_is_not_trusted_even_by_a_worker_that_never_cached_the_token(two_workers):
    signer, verifier, store = two_workers
    user = UserFactory()
    verifier.get("/.well-known/jwks.json")  # the verifier has loaded its ring once
    token = _login(signer, user)
    old_kid = jwt.get_unverified_header(token)["kid"]

    store.rotate()
    _remove_key(store, old_kid)

    response = verifier.get("/auth/me", headers=bearer(token))

    assert response.status_code == 401
