"""What authorization costs: requests per second of a protected route next to a bare
JSON route of the same app, under gunicorn on 127.0.0.1, measured side by side with wrk.

    .venv/bin/python -m benchmarks.authz_overhead            # SQLite, no Redis
    AUTHZ_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m benchmarks.authz_overhead        # a fresh PostgreSQL database
    AUTHZ_BENCH_REDIS_URL=redis://127.0.0.1:6379/0 ...       # and the Redis epoch mirror

    .venv/bin/pip install -e . --group bench && .venv/bin/python -m benchmarks.authz_overhead --peers
                                                             # peer libraries in the same run

Needs `wrk` (Debian package). Prints one line per route and its ratio to the bare route of
its own app (ours, or each peer's: see benchmarks/peer_apps.py).
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
QUIET = ("--log-level", "warning", "--no-control-socket")


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
    parser.add_argument("--peers", action="store_true", help="measure peer libraries in the same run")
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


def start_gunicorn(app_spec: str, workers: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", *QUIET, app_spec],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/bare" if "peer" in app_spec else f"{base}/healthz", timeout=1)  # noqa: S310
            break
        except OSError:
            time.sleep(0.1)
    return process, base


def peer_routes(
    workers: int, workdir: str
) -> tuple[subprocess.Popen[bytes], dict[str, tuple[str, dict[str, str], str]]]:
    """The peers' routes, each with the bare route of its own app as its baseline."""
    from benchmarks.peer_apps import Peers

    headers = Peers(workdir).headers()  # writes the shared key and the FST user before the workers start
    process, base = start_gunicorn(
        "benchmarks.peer_apps:create_peers_app()", workers, {"AUTHZ_PEERS_DIR": workdir}
    )
    routes = {
        "peer: FJE bare route": (f"{base}/fje/bare", {}, "peer: FJE bare route"),
        "peer: FJE @jwt_required": (f"{base}/fje/protected", headers["fje"], "peer: FJE bare route"),
        "peer: FJE + permission claim": (
            f"{base}/fje/permission",
            headers["fje-claim"],
            "peer: FJE bare route",
        ),
        "peer: casbin bare route": (f"{base}/casbin/bare", {}, "peer: casbin bare route"),
        "peer: FJE + pycasbin": (f"{base}/casbin/protected", headers["casbin"], "peer: casbin bare route"),
        "peer: FST bare route": (f"{base}/fst/bare", {}, "peer: FST bare route"),
        "peer: Flask-Security-Too": (f"{base}/fst/protected", headers["fst"], "peer: FST bare route"),
    }
    return process, routes


def run(options: argparse.Namespace, env: dict[str, str], tenant_id: str, token: str) -> None:
    gunicorn, base = start_gunicorn("benchmarks.bench_app:create_bench_app()", options.workers, env)
    servers = [gunicorn]
    bare = "bare JSON route (public)"
    try:
        auth = {"Authorization": f"Bearer {token}"}
        routes = {
            bare: (f"{base}/bench/bare", {}, bare),
            "protected route (whole policy)": (f"{base}/tenants/{tenant_id}/bench", auth, bare),
            "GET /auth/me (policy + 1 query)": (f"{base}/auth/me", auth, bare),
        }
        if options.peers:
            peers, more = peer_routes(options.workers, env["AUTHZ_KEY_DIR"] + "-peers")
            servers.append(peers)
            routes |= more
        for url, headers, _ in routes.values():  # warm-up: workers, caches, connections
            wrk(url, 1, options.connections, headers)
        samples: dict[str, list[float]] = {name: [] for name in routes}
        for _ in range(options.rounds):  # interleaved, so that noise hits every route alike
            for name, (url, headers, _) in routes.items():
                samples[name].append(wrk(url, options.seconds, options.connections, headers))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)

    database = env["AUTHZ_DATABASE_URL"].split(":", 1)[0] + (" + redis" if "AUTHZ_REDIS_URL" in env else "")
    print(
        f"gunicorn {options.workers} sync workers, wrk {options.connections} connections, "
        f"{options.rounds} x {options.seconds}s per route, database {database}"
    )
    for name, values in samples.items():
        median = statistics.median(values)
        baseline = statistics.median(samples[routes[name][2]])
        print(f"{name:<34} {median:>9.0f} req/s   {median / baseline:.2f}x of its bare route")


if __name__ == "__main__":
    main()
