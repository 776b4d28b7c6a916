"""What authorization costs: requests per second of a protected route next to a bare
JSON route of the same app, under gunicorn on 127.0.0.1, measured side by side with wrk.

    .venv/bin/python -m benchmarks.authz_overhead            # SQLite, no Redis
    AUTHZ_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m benchmarks.authz_overhead        # a fresh PostgreSQL database
    AUTHZ_BENCH_REDIS_URL=redis://127.0.0.1:6379/0 ...       # with Redis configured

    .venv/bin/pip install -e . --group bench && .venv/bin/python -m benchmarks.authz_overhead --peers
                                                             # peer libraries in the same run

Needs `wrk` (Debian package). Prints one line per route, AuthZEN evaluations (single, and
batches of 100) included, and its ratio to the bare route of its own app (ours, or each
peer's: see benchmarks/peer_apps.py).
"""

from __future__ import annotations

import argparse
import json
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
from app.services import services
from app.settings import load_settings
from policies import BuiltinRole
from tests.databases import fresh_database, upgrade

PASSWORD = "benchmark-password-123"
BATCH = 100
ROOT = Path(__file__).resolve().parent.parent
QUIET = ("--log-level", "warning", "--no-control-socket")
BARE = "bare JSON route (public)"
# name -> (url, headers, wrk script or None, the name of its baseline route)
Routes = dict[str, tuple[str, dict[str, str], str | None, str]]


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(env: dict[str, str]) -> tuple[str, str, str]:
    """A tenant with a member and an admin (the decision API's caller); returns the tenant id,
    the member's access token and the admin's."""
    os.environ.update(env)
    app = create_app(load_settings())
    with app.app_context():
        session = services(app).database.sessions()
        with unit_of_work(session):
            tenant = create_tenant(session, "bench", "Bench")
            role = builtin_role(session, tenant, BuiltinRole.MEMBER)
            hashed = services(app).passwords.hash(PASSWORD)
            create_user(session, tenant, "member", hashed, roles=[role])
            create_user(
                session, tenant, "pep", hashed, roles=[builtin_role(session, tenant, BuiltinRole.ADMIN)]
            )
            tenant_id = str(tenant.id)
    tokens = [
        app.test_client()
        .post("/auth/login", json={"tenant": "bench", "username": name, "password": PASSWORD})
        .get_json()["access_token"]
        for name in ("member", "pep")
    ]
    return tenant_id, tokens[0], tokens[1]


EVALUATION = {"subject": {"type": "user", "id": "member"}, "action": {"name": "read"}}


def evaluation_body(count: int) -> str:
    """One AuthZEN evaluation, or a batch of `count` (distinct resources, one subject)."""
    if count == 1:
        return json.dumps({**EVALUATION, "resource": {"type": "projects", "id": "p-0"}})
    items = [{"resource": {"type": "projects", "id": f"p-{i}"}} for i in range(count)]
    return json.dumps({**EVALUATION, "evaluations": items})


def post_script(directory: str, name: str, body: str) -> str:
    """A wrk Lua script that POSTs `body` as JSON."""
    path = Path(directory) / f"{name}.lua"
    quoted = body.replace("\\", "\\\\").replace("'", "\\'")
    path.write_text(
        f"wrk.method = 'POST'\nwrk.body = '{quoted}'\nwrk.headers['Content-Type'] = 'application/json'\n"
    )
    return str(path)


def wrk(
    url: str, seconds: int, connections: int, headers: dict[str, str], script: str | None = None
) -> float:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        args += ["-s", script]
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
            tenant_id, token, pep_token = seed(env)
            run(options, env, tenant_id, token, pep_token, tmp)


def start_gunicorn(
    app_spec: str, workers: int, env: dict[str, str], ready: str, config: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            *config,
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            *QUIET,
            app_spec,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}{ready}", timeout=1)  # noqa: S310 - loopback only
            break
        except OSError:
            time.sleep(0.1)
    return process, base


def peer_routes(workers: int, workdir: str) -> tuple[subprocess.Popen[bytes], Routes]:
    """The peers' routes, each with the bare route of its own app as its baseline."""
    from benchmarks.peer_apps import Peers

    headers = Peers(workdir).headers()  # writes the shared key and the FST user before the workers start
    process, base = start_gunicorn(
        "benchmarks.peer_apps:create_peers_app()", workers, {"AUTHZ_PEERS_DIR": workdir}, "/fje/bare"
    )
    fje, casbin, fst = "peer: FJE bare route", "peer: casbin bare route", "peer: FST bare route"
    routes: Routes = {
        fje: (f"{base}/fje/bare", {}, None, fje),
        "peer: FJE @jwt_required": (f"{base}/fje/protected", headers["fje"], None, fje),
        "peer: FJE + permission claim": (f"{base}/fje/permission", headers["fje-claim"], None, fje),
        casbin: (f"{base}/casbin/bare", {}, None, casbin),
        "peer: FJE + pycasbin": (f"{base}/casbin/protected", headers["casbin"], None, casbin),
        fst: (f"{base}/fst/bare", {}, None, fst),
        "peer: Flask-Security-Too": (f"{base}/fst/protected", headers["fst"], None, fst),
    }
    return process, routes


def run(
    options: argparse.Namespace, env: dict[str, str], tenant_id: str, token: str, pep_token: str, tmp: str
) -> None:
    config = ("-c", "gunicorn.conf.py") if options.production_config else ()
    gunicorn, base = start_gunicorn(
        "benchmarks.bench_app:create_bench_app()", options.workers, env, "/healthz", config
    )
    servers = [gunicorn]
    try:
        auth = {"Authorization": f"Bearer {token}"}
        pep = {"Authorization": f"Bearer {pep_token}"}
        routes: Routes = {
            BARE: (f"{base}/bench/bare", {}, None, BARE),
            "protected route (whole policy)": (f"{base}/tenants/{tenant_id}/bench", auth, None, BARE),
            "GET /auth/me (policy + 1 query)": (f"{base}/auth/me", auth, None, BARE),
            "AuthZEN evaluation (1)": (
                f"{base}/access/v1/evaluation",
                pep,
                post_script(tmp, "one", evaluation_body(1)),
                BARE,
            ),
            "AuthZEN evaluations (batch of 100)": (
                f"{base}/access/v1/evaluations",
                pep,
                post_script(tmp, "batch", evaluation_body(BATCH)),
                BARE,
            ),
        }
        if options.peers:
            peers, more = peer_routes(options.workers, f"{tmp}/peers")
            servers.append(peers)
            routes |= more
        for url, headers, script, _ in routes.values():  # warm-up: workers, caches, connections
            wrk(url, 1, options.connections, headers, script)
        samples: dict[str, list[float]] = {name: [] for name in routes}
        for _ in range(options.rounds):  # interleaved, so that noise hits every route alike
            for name, (url, headers, script, _) in routes.items():
                samples[name].append(wrk(url, options.seconds, options.connections, headers, script))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)

    database = env["AUTHZ_DATABASE_URL"].split(":", 1)[0] + (" + redis" if "AUTHZ_REDIS_URL" in env else "")
    print(
        f"gunicorn {options.workers} {'gevent (gunicorn.conf.py)' if options.production_config else 'sync'} "
        f"workers, wrk {options.connections} connections, "
        f"{options.rounds} x {options.seconds}s per route, database {database}"
    )
    for name, values in samples.items():
        median = statistics.median(values)
        baseline = statistics.median(samples[routes[name][3]])
        per = BATCH if "batch" in name else 1
        print(
            f"{name:<36} {median:>9.0f} req/s   {median / baseline:.2f}x of its bare route"
            + (f"   {median * per:.0f} evaluations/s" if per > 1 else "")
        )


if __name__ == "__main__":
    main()
