"""What authorization costs: requests per second of a protected route next to a bare
JSON route of the same app, under gunicorn on 127.0.0.1, measured side by side with wrk.

    .venv/bin/python -m benchmarks.authz_overhead            # SQLite, no Redis
    AUTHZ_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m benchmarks.authz_overhead        # a fresh PostgreSQL database
    AUTHZ_BENCH_REDIS_URL=redis://127.0.0.1:6379/0 ...       # with Redis configured

Needs `wrk` (Debian package). Prints one line per route and the ratios to the baseline.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing
from pathlib import Path

from app import create_app
from app.database import unit_of_work
from app.provisioning import builtin_role, create_tenant, create_user
from app.security import PASSWORDS
from app.settings import load_settings
from policies import BuiltinRole
from tests.databases import fresh_database, upgrade

PASSWORD = "benchmark-password-123"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(env: dict[str, str]) -> tuple[str, str]:
    """A tenant with a member; returns the tenant id and an access token."""
    os.environ.update(env)
    app = create_app(load_settings())
    with app.app_context():
        session = app.extensions["authz.database"].sessions()
        with unit_of_work(session):
            tenant = create_tenant(session, "bench", "Bench")
            role = builtin_role(session, tenant, BuiltinRole.MEMBER)
            create_user(session, tenant, "member", app.extensions[PASSWORDS].hash(PASSWORD), roles=[role])
            tenant_id = str(tenant.id)
    response = app.test_client().post(
        "/auth/login", json={"tenant": "bench", "username": "member", "password": PASSWORD}
    )
    return tenant_id, response.get_json()["access_token"]


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> float:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise SystemExit(f"{url} answered {non_2xx.group(1)} errors under load:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--production-config",
        action="store_true",
        help="gunicorn.conf.py (gevent, JSON logs) instead of sync",
    )
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    with tempfile.TemporaryDirectory() as tmp:
        server = os.environ.get("AUTHZ_BENCH_DATABASE_URL")
        if server:
            os.environ["AUTHZ_TEST_DATABASE_URL"] = server
        with fresh_database(Path(tmp), "bench") as url:
            upgrade(url)
            env = {"AUTHZ_DATABASE_URL": url, "AUTHZ_KEY_DIR": f"{tmp}/keys", "AUTHZ_ISSUER": "https://bench"}
            if os.environ.get("AUTHZ_BENCH_REDIS_URL"):
                env |= {"AUTHZ_REDIS_URL": os.environ["AUTHZ_BENCH_REDIS_URL"], "AUTHZ_REDIS_PREFIX": "bench"}
            tenant_id, token = seed(env)
            run(options, env, tenant_id, token)


def run(options: argparse.Namespace, env: dict[str, str], tenant_id: str, token: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            *(["-c", "gunicorn.conf.py"] if options.production_config else ["--no-control-socket"]),
            "-w",
            str(options.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "benchmarks.bench_app:create_bench_app()",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - loopback only
                break
            except OSError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {token}"}
        routes = {
            "bare JSON route (public)": (f"{base}/bench/bare", {}),
            "protected route (whole policy)": (f"{base}/tenants/{tenant_id}/bench", auth),
            "GET /auth/me (policy + 1 query)": (f"{base}/auth/me", auth),
        }
        for url, headers in routes.values():  # warm-up: workers, caches, connections
            wrk(url, 1, options.connections, headers)
        samples: dict[str, list[float]] = {name: [] for name in routes}
        for _ in range(options.rounds):  # interleaved, so that noise hits every route alike
            for name, (url, headers) in routes.items():
                samples[name].append(wrk(url, options.seconds, options.connections, headers))
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=10)

    baseline = statistics.median(samples["bare JSON route (public)"])
    database = env["AUTHZ_DATABASE_URL"].split(":", 1)[0] + (" + redis" if "AUTHZ_REDIS_URL" in env else "")
    print(
        f"gunicorn {options.workers} {'gevent (gunicorn.conf.py)' if options.production_config else 'sync'} "
        f"workers, wrk {options.connections} connections, "
        f"{options.rounds} x {options.seconds}s per route, database {database}"
    )
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<34} {median:>9.0f} req/s   {median / baseline:.2f}x of bare")


if __name__ == "__main__":
    main()
