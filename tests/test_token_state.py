"""The token state check: cached per worker, never trusted past a revocation; Redis, when
configured, holds no revocation state and may fail without reviving a token."""

from __future__ import annotations

import os
import uuid

import pytest

from app import create_app
from app.redis_health import redis_health
from tests.conftest import PASSWORD, bearer
from tests.factories import UserFactory

REDIS_URL = os.environ.get("AUTHZ_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="set AUTHZ_TEST_REDIS_URL (CI does) to test with Redis"
)


def log_in(api, user):
    body = {"tenant": user.tenant.slug, "username": user.username, "password": PASSWORD}
    return api.post("/auth/login", json=body).get_json()


def test_a_cached_state_is_dropped_by_a_revocation(client, db, login, app):
    user = UserFactory()
    tokens = login(user)
    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200  # cached

    user.is_active = False
    db.flush()  # the flush bumps the revocation epoch in the same transaction

    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401


def test_a_change_that_revokes_nothing_keeps_the_cache(client, db, login, app, count_queries):
    user = UserFactory()
    headers = bearer(login(user)["access_token"])
    client.get("/permissions", headers=headers)

    user.email = "new@example.com"
    db.flush()
    with count_queries.counting():
        client.get("/permissions", headers=headers)

    assert count_queries.count == 1  # the epoch only: the cached state is still good


def test_a_dead_redis_degrades_to_the_database_and_still_revokes(make_settings, bind_app, db):
    api = bind_app(create_app(make_settings(redis_url="redis://127.0.0.1:1/0"), TESTING=True)).test_client()
    user = UserFactory()
    tokens = log_in(api, user)

    assert api.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert api.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert api.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401


@needs_redis
def test_with_redis_a_revocation_is_seen_at_once(make_settings, bind_app, db):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    app = bind_app(create_app(make_settings(redis_url=REDIS_URL, redis_prefix=prefix), TESTING=True))
    api = app.test_client()
    user = UserFactory()
    tokens = log_in(api, user)
    assert api.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200

    assert api.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204

    assert api.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    with app.app_context():
        assert redis_health().ping()
