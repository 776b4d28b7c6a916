"""The README's "Deploy" shape, started for real: two instances of the production command
on one PostgreSQL and one Redis (both the test's own). A revocation through one instance is
seen by the other at once, whatever Redis does meanwhile (killed, paused, restored from an
older snapshot: issue 18, item 3); workers count metrics together; every log line is one
JSON object and none holds a secret of the run."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.provisioning import builtin_role, create_tenant, create_user
from app.services import services
from policies import BuiltinRole
from tests.faults import OwnRedis, require_redis_binary
from tests.servers import CLIENT_SECRET_KEY, production_server, seeding_app

PASSWORD = "deployment-test-password"
USERS = ("bob", "carol", "dave")
CHECKS_PER_INSTANCE = 12  # several requests, so each instance's workers all take some


def call(method: str, url: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback only
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw and raw[:1] == b"{" else {}
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else {}


@dataclass
class Deployment:
    first: str
    second: str
    redis: OwnRedis
    logs: list[Path]
    secrets: set[str] = field(default_factory=lambda: {PASSWORD})

    def login(self, via: str, username: str) -> dict:
        status, tokens = call(
            "POST", f"{via}/auth/login", body={"tenant": "acme", "username": username, "password": PASSWORD}
        )
        assert status == 200, tokens
        self.secrets.update(tokens[key] for key in ("access_token", "refresh_token"))
        return tokens

    def statuses(self, token: str) -> set[int]:
        """What both instances answer to `token`, several times each."""
        return {
            call("GET", f"{base}/auth/me", token)[0]
            for base in (self.first, self.second)
            for _ in range(CHECKS_PER_INSTANCE)
        }


@pytest.fixture(scope="module")
def deployment(own_postgres, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deploy")
    redis_server = OwnRedis(require_redis_binary())
    redis_server.start()
    url = own_postgres.new_database("deploy")
    env = {
        "AUTHZ_DATABASE_URL": url,
        "AUTHZ_REDIS_URL": redis_server.url,
        "AUTHZ_KEY_DIR": str(tmp / "keys"),  # shared by both instances, as the README says
        "AUTHZ_ISSUER": "https://deploy.test",
        "AUTHZ_CLIENT_SECRET_KEY": CLIENT_SECRET_KEY,  # given: nothing is written into instance/
    }
    seeder = seeding_app(url, tmp / "keys", "https://deploy.test")
    database = services(seeder).database
    with seeder.app_context(), database.sessions() as session:
        tenant = create_tenant(session, "acme", "Acme")
        member = builtin_role(session, tenant, BuiltinRole.MEMBER)
        hashed = services(seeder).passwords.hash(PASSWORD)
        for username in USERS:
            create_user(session, tenant, username, hashed, roles=[member])
        session.commit()
    database.engine.dispose()
    logs = [tmp / "first.log", tmp / "second.log"]
    try:
        with production_server(env, logs[0]) as first, production_server(env, logs[1]) as second:
            yield Deployment(first, second, redis_server, logs)
    finally:
        redis_server.destroy()


def test_a_logout_through_one_instance_is_seen_by_the_other_at_once(deployment):
    tokens = deployment.login(deployment.first, "bob")
    assert deployment.statuses(tokens["access_token"]) == {200}

    assert call("POST", f"{deployment.second}/auth/logout", tokens["access_token"])[0] == 204

    assert deployment.statuses(tokens["access_token"]) == {401}


def test_no_redis_fault_lets_a_revoked_token_through(deployment):
    redis_server = deployment.redis
    old_snapshot = redis_server.snapshot()  # what a stale backup or lagging replica holds

    # Revoked while Redis is paused, across 1.2 s, with no manual step.
    paused = deployment.login(deployment.first, "carol")
    assert deployment.statuses(paused["access_token"]) == {200}
    redis_server.pause()
    try:
        assert call("POST", f"{deployment.first}/auth/logout", paused["access_token"])[0] == 204
        time.sleep(1.2)
    finally:
        redis_server.resume()
    assert deployment.statuses(paused["access_token"]) == {401}

    # Revoked while Redis is down, which then comes back from the older snapshot.
    killed = deployment.login(deployment.second, "dave")
    assert deployment.statuses(killed["access_token"]) == {200}
    redis_server.kill()
    assert call("POST", f"{deployment.second}/auth/logout", killed["access_token"])[0] == 204
    assert deployment.statuses(killed["access_token"]) == {401}
    redis_server.restore(old_snapshot)
    assert deployment.statuses(killed["access_token"]) == {401}
    assert deployment.statuses(paused["access_token"]) == {401}

    # A restart from the stale snapshot after the revocation, and a kill with nothing back.
    redis_server.kill()
    redis_server.restore(old_snapshot)
    assert deployment.statuses(killed["access_token"]) == {401}
    redis_server.kill()
    try:
        assert deployment.statuses(paused["access_token"]) == {401}
    finally:
        redis_server.start()


def test_the_workers_of_an_instance_count_metrics_together(deployment):
    def requests_counted() -> float:
        with urllib.request.urlopen(f"{deployment.first}/metrics", timeout=10) as response:  # noqa: S310
            text_body = response.read().decode()
        pattern = r'authz_http_requests_total\{method="GET",route="/healthz",status="200"\} ([0-9.e+]+)'
        return sum(float(value) for value in re.findall(pattern, text_body))

    before = requests_counted()
    with ThreadPoolExecutor(8) as pool:  # concurrent, so that both workers take some
        list(pool.map(lambda _: call("GET", f"{deployment.first}/healthz"), range(80)))

    assert requests_counted() - before == 80


def test_every_log_line_is_json_and_no_secret_of_the_run_is_logged(deployment):
    # Runs last in this module: the logs hold every request of the tests above.
    text_body = "".join(log.read_text() for log in deployment.logs)
    lines = [json.loads(line) for line in text_body.splitlines()]  # fails on any non-JSON line

    assert any(line.get("logger") == "gunicorn.error" for line in lines)  # gunicorn's own, as JSON
    assert any(line.get("event") == "auth.logout" for line in lines)  # security events
    leaked = sorted(secret[:12] for secret in deployment.secrets if secret in text_body)
    assert leaked == []
