"""Limits shared by every worker: gunicorn with two workers on one database and Redis.
With memory storage each worker would count alone (twice the limit with two workers, as
the README says), so these tests need Redis (CI sets AUTHZ_TEST_REDIS_URL)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import create_app
from app.database import database
from app.provisioning import builtin_role, create_tenant, create_user
from app.security import passwords
from app.services import services
from app.settings import Settings
from policies import BuiltinRole
from tests.databases import fresh_database, upgrade
from tests.servers import CLIENT_SECRET_KEY, gunicorn

PASSWORD = "multi-worker-password"
REDIS_URL = os.environ.get("AUTHZ_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="limits are shared through Redis: set AUTHZ_TEST_REDIS_URL (CI does)"
)


def login(
    base: str, username: str, address: str, password: str = "a-wrong-but-long-password"
) -> tuple[int, str]:
    body = json.dumps({"tenant": "acme", "username": username, "password": password}).encode()
    request = urllib.request.Request(f"{base}/auth/login", data=body, method="POST")  # noqa: S310 - loopback
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Forwarded-For", address)  # our one trusted proxy says who called
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            return response.status, response.headers["X-Served-By"]
    except urllib.error.HTTPError as error:
        return error.code, error.headers["X-Served-By"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("limits")
    with fresh_database(tmp_path, "limits") as url:
        upgrade(url)
        env = {
            "AUTHZ_DATABASE_URL": url,
            "AUTHZ_KEY_DIR": str(tmp_path / "keys"),
            "AUTHZ_REDIS_URL": REDIS_URL,
            "AUTHZ_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
            "AUTHZ_TRUSTED_PROXY_COUNT": "1",
            "AUTHZ_LOGIN_LIMIT_PER_ADDRESS": "6 per minute",
            "AUTHZ_CLIENT_SECRET_KEY": CLIENT_SECRET_KEY,
        }
        settings = {name.removeprefix("AUTHZ_").lower(): value for name, value in env.items()}
        seeding = create_app(Settings(_env_file=None, **settings))  # type: ignore[call-arg]
        with seeding.app_context(), database().sessions() as session:
            tenant = create_tenant(session, "acme", "Acme")
            role = builtin_role(session, tenant, BuiltinRole.MEMBER)
            create_user(session, tenant, "bob", passwords().hash(PASSWORD), roles=[role])
            session.commit()
        services(seeding).database.engine.dispose()
        with gunicorn("tests.multiworker_app:create()", env, workers=2) as served:
            yield served


def test_the_address_limit_is_one_count_across_workers(base):
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: login(base, f"nobody{n}", "198.51.100.7"), range(16)))

    statuses = [status for status, _ in answers]
    assert statuses.count(401) == 6  # login_limit_per_address, not 6 per worker
    assert statuses.count(429) == 10
    assert len({worker for _, worker in answers}) == 2, "both workers must have answered"


def test_the_account_backoff_is_one_count_across_workers_and_addresses(base):
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: login(base, "bob", f"203.0.113.{n}"), range(16)))

    statuses = [status for status, _ in answers]
    assert statuses.count(401) == 6  # the free failures plus one, from all addresses together
    assert statuses.count(429) == 10
    assert len({worker for _, worker in answers}) == 2, "both workers must have answered"
    assert login(base, "bob", "203.0.113.200", password=PASSWORD)[0] == 429  # the right one too
