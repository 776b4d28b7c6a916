"""Immediate effect across workers and instances: gunicorn with several workers on a real
database (PostgreSQL in CI, with Redis when AUTHZ_TEST_REDIS_URL is set), revoking
through one worker and checking through every other."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from flask import Flask

from app import create_app
from app.database import database
from app.provisioning import builtin_role, create_tenant, create_user
from app.security import passwords
from app.security.revocation import invalidate_access_tokens
from app.services import services
from app.settings import Settings
from models import User
from policies import BuiltinRole
from tests.databases import fresh_database, upgrade
from tests.servers import CLIENT_SECRET_KEY, gunicorn

PASSWORD = "multi-worker-password"
WORKERS = 3


def call(method: str, url: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback only
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}, response.headers["X-Served-By"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), error.headers["X-Served-By"]


def until_every_worker_answered(url: str, token: str) -> list[int]:
    """Statuses of requests sent until each worker has answered at least once.

    Requests go in concurrent bursts: one request at a time tends to wake the same idle
    sync worker again and again (the kernel's accept queue is LIFO), so a sequential loop
    may never reach the others on a busy machine."""
    seen, statuses = set(), []
    with ThreadPoolExecutor(max_workers=2 * WORKERS) as pool:
        for _ in range(50):
            for status, _body, worker in pool.map(lambda _: call("GET", url, token), range(2 * WORKERS)):
                statuses.append(status)
                seen.add(worker)
            if len(seen) == WORKERS:
                return statuses
    pytest.fail(f"only workers {seen} answered")


USERS = ("bob", "carol", "dave")


@dataclass
class Deployment:
    base: str
    other_instance: Flask  # the same service in another process: shares database and Redis
    user_ids: dict[str, uuid.UUID]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("workers")
    with fresh_database(tmp_path, "workers") as url:
        upgrade(url)
        env = {
            "AUTHZ_DATABASE_URL": url,
            "AUTHZ_KEY_DIR": str(tmp_path / "keys"),
            "AUTHZ_ISSUER": "https://workers.test",
            "AUTHZ_CLIENT_SECRET_KEY": CLIENT_SECRET_KEY,
        }
        redis_url = os.environ.get("AUTHZ_TEST_REDIS_URL")
        if redis_url:
            env |= {"AUTHZ_REDIS_URL": redis_url, "AUTHZ_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:8]}"}
        settings = {name.removeprefix("AUTHZ_").lower(): value for name, value in env.items()}
        other_instance = create_app(Settings(_env_file=None, **settings))  # type: ignore[call-arg]
        with other_instance.app_context(), database().sessions() as session:
            tenant = create_tenant(session, "acme", "Acme")
            role = builtin_role(session, tenant, BuiltinRole.MEMBER)
            password_hash = passwords().hash(PASSWORD)
            user_ids = {
                name: create_user(session, tenant, name, password_hash, roles=[role]).id for name in USERS
            }
            session.commit()
        with gunicorn("tests.multiworker_app:create()", env, workers=WORKERS) as base:
            yield Deployment(base, other_instance, user_ids)
        services(other_instance).database.engine.dispose()


def login(deployment: Deployment, username: str) -> dict:
    body = {"tenant": "acme", "username": username, "password": PASSWORD}
    status, answer, _ = call("POST", f"{deployment.base}/auth/login", body=body)
    assert status == 200, answer
    return answer


def test_logout_through_one_worker_revokes_in_every_worker(deployment):
    base = deployment.base
    tokens = login(deployment, "bob")
    assert set(until_every_worker_answered(f"{base}/auth/me", tokens["access_token"])) == {200}

    status, _, _ = call("POST", f"{base}/auth/logout", tokens["access_token"])

    assert status == 204
    assert set(until_every_worker_answered(f"{base}/auth/me", tokens["access_token"])) == {401}


def test_a_deactivation_by_another_instance_is_seen_by_every_worker(deployment):
    base = deployment.base
    tokens = login(deployment, "carol")
    assert set(until_every_worker_answered(f"{base}/auth/me", tokens["access_token"])) == {200}

    with deployment.other_instance.app_context(), database().sessions() as session:
        session.get(User, deployment.user_ids["carol"]).is_active = False
        session.commit()

    assert set(until_every_worker_answered(f"{base}/auth/me", tokens["access_token"])) == {401}


def test_a_role_change_by_another_instance_fails_older_access_tokens(deployment):
    base = deployment.base
    tokens = login(deployment, "dave")
    until_every_worker_answered(f"{base}/auth/me", tokens["access_token"])

    with deployment.other_instance.app_context(), database().sessions() as session:
        invalidate_access_tokens(session, [deployment.user_ids["dave"]])
        session.commit()

    assert set(until_every_worker_answered(f"{base}/auth/me", tokens["access_token"])) == {401}
    status, refreshed, _ = call("POST", f"{base}/auth/refresh", tokens["refresh_token"])
    assert status == 200
    assert set(until_every_worker_answered(f"{base}/auth/me", refreshed["access_token"])) == {200}
