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
import base64
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
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app import create_app
from app.cursors import encode_cursor
from app.database import unit_of_work
from app.provisioning import builtin_role, create_tenant, create_user
from app.services import services
from app.settings import load_settings
from models import User, UserRole, username_skeleton
from policies import BuiltinRole
from tests.databases import fresh_database, upgrade

PASSWORD = "benchmark-password-123"
BATCH = 100
ROOT = Path(__file__).resolve().parent.parent
QUIET = ("--log-level", "warning", "--no-control-socket")
BARE = "bare JSON route (public)"
LOGIN = "POST /auth/login"
# name -> (url, headers, wrk script or None, the name of its baseline route)
Routes = dict[str, tuple[str, dict[str, str], str | None, str]]


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class World:
    """What the routes under measurement need: ids, tokens, a client, a deep users cursor."""

    tenant_id: str
    member_token: str
    pep_token: str
    client_basic: str  # "Basic ..." for the client-credentials grant
    users_after_90k: str  # the users-list cursor after USERS * 9 // 10 rows


def seed(env: dict[str, str], users: int) -> World:
    """A tenant with a member, an admin (the decision API's caller, and the owner of an
    integration client) and `users` more users; then their tokens and a deep cursor."""
    os.environ.update(env)
    app = create_app(load_settings())
    with app.app_context():
        session = services(app).database.sessions()
        with unit_of_work(session):
            tenant = create_tenant(session, "bench", "Bench")
            member = builtin_role(session, tenant, BuiltinRole.MEMBER)
            hashed = services(app).passwords.hash(PASSWORD)
            create_user(session, tenant, "member", hashed, roles=[member])
            create_user(
                session, tenant, "pep", hashed, roles=[builtin_role(session, tenant, BuiltinRole.ADMIN)]
            )
            tenant_id = tenant.id
        bulk_users(session, tenant_id, member.id, users)
        deep = session.execute(
            select(User.created_at, User.id)
            .where(User.tenant_id == tenant_id)
            .order_by(User.created_at, User.id)
            .offset(users * 9 // 10)
            .limit(1)
        ).one()
        session.close()
    api = app.test_client()
    tokens = [
        api.post("/auth/login", json={"tenant": "bench", "username": name, "password": PASSWORD}).get_json()[
            "access_token"
        ]
        for name in ("member", "pep")
    ]
    created = api.post(
        f"/tenants/{tenant_id}/clients",
        json={"name": "bench integration", "scopes": ["projects:read"]},
        headers={"Authorization": f"Bearer {tokens[1]}"},
    ).get_json()
    basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()
    with app.test_request_context(f"/tenants/{tenant_id}/users"):
        cursor = encode_cursor(deep.created_at, deep.id)
    return World(str(tenant_id), tokens[0], tokens[1], f"Basic {basic}", cursor)


def bulk_users(session: Session, tenant_id: uuid.UUID, role_id: uuid.UUID, count: int) -> None:
    """`count` members, inserted in bulk (one password hash: they never log in)."""
    now = datetime.now(UTC)
    for start in range(0, count, 10_000):
        ids = [uuid.uuid4() for _ in range(start, min(count, start + 10_000))]
        names = [f"user{n:06d}" for n in range(start, start + len(ids))]
        rows = [
            {
                "id": i,
                "tenant_id": tenant_id,
                "username": name,
                "username_key": name,
                "username_skeleton": username_skeleton(name),
                "password_hash": "unused",
                "is_active": True,
                "authz_version": 1,
                "created_at": now + timedelta(microseconds=start + n),
            }
            for n, (i, name) in enumerate(zip(ids, names, strict=True))
        ]
        session.execute(insert(User), rows)
        session.execute(
            insert(UserRole),
            [{"tenant_id": tenant_id, "user_id": i, "role_id": role_id, "created_at": now} for i in ids],
        )
        session.commit()


EVALUATION = {"subject": {"type": "user", "id": "member"}, "action": {"name": "read"}}


def evaluation_body(count: int) -> str:
    """One AuthZEN evaluation, or a batch of `count` (distinct resources, one subject)."""
    if count == 1:
        return json.dumps({**EVALUATION, "resource": {"type": "projects", "id": "p-0"}})
    items = [{"resource": {"type": "projects", "id": f"p-{i}"}} for i in range(count)]
    return json.dumps({**EVALUATION, "evaluations": items})


def post_script(directory: str, name: str, body: str, content_type: str = "application/json") -> str:
    """A wrk Lua script that POSTs `body`."""
    path = Path(directory) / f"{name}.lua"
    quoted = body.replace("\\", "\\\\").replace("'", "\\'")
    path.write_text(
        f"wrk.method = 'POST'\nwrk.body = '{quoted}'\nwrk.headers['Content-Type'] = '{content_type}'\n"
    )
    return str(path)


def wrk(
    url: str, seconds: int, connections: int, headers: dict[str, str], script: str | None = None
) -> tuple[float, float]:
    """Requests per second and the mean latency in milliseconds."""
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        args += ["-s", script]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise SystemExit(f"{url} answered {non_2xx.group(1)} errors under load:\n{out}")
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    mean_ms = float(latency.group(1)) * scale[latency.group(2)] if latency else float("nan")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), mean_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=100_000, help="users in the tenant whose list is paged")
    parser.add_argument("--peers", action="store_true", help="measure peer libraries in the same run")
    parser.add_argument(
        "--only", help="measure only the routes whose name contains this text (and the bare one)"
    )
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
            env = {
                "AUTHZ_DATABASE_URL": url,
                "AUTHZ_KEY_DIR": f"{tmp}/keys",
                "AUTHZ_ISSUER": "https://bench",
                # The benchmark is one address hammering one account and one client.
                "AUTHZ_LOGIN_LIMIT_PER_ADDRESS": "100000000 per second",
                "AUTHZ_TOKEN_LIMIT_PER_ADDRESS": "100000000 per second",
                "AUTHZ_TOKEN_LIMIT_PER_CLIENT": "100000000 per second",
            }
            if os.environ.get("AUTHZ_BENCH_REDIS_URL"):
                env |= {"AUTHZ_REDIS_URL": os.environ["AUTHZ_BENCH_REDIS_URL"], "AUTHZ_REDIS_PREFIX": "bench"}
            world = seed(env, options.users)
            run(options, env, world, tmp)


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


def our_routes(base: str, world: World, tmp: str) -> Routes:
    member = {"Authorization": f"Bearer {world.member_token}"}
    pep = {"Authorization": f"Bearer {world.pep_token}"}
    tid = world.tenant_id
    login = json.dumps({"tenant": "bench", "username": "member", "password": PASSWORD})
    return {
        BARE: (f"{base}/bench/bare", {}, None, BARE),
        "tenant route, claims only (whole policy)": (f"{base}/tenants/{tid}/bench", member, None, BARE),
        "GET /auth/me (policy + 1 read)": (f"{base}/auth/me", member, None, BARE),
        "GET /tenants/{tid}/projects": (f"{base}/tenants/{tid}/projects", member, None, BARE),
        "GET /permissions (catalog page)": (f"{base}/permissions", member, None, BARE),
        "POST /auth/token (client credentials)": (
            f"{base}/auth/token",
            {"Authorization": world.client_basic},
            post_script(tmp, "token", "grant_type=client_credentials", "application/x-www-form-urlencoded"),
            BARE,
        ),
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
        "users page of 20 (first)": (f"{base}/tenants/{tid}/users?limit=20", pep, None, BARE),
        "users page of 20 (after 90%)": (
            f"{base}/tenants/{tid}/users?limit=20&cursor={world.users_after_90k}",
            pep,
            None,
            BARE,
        ),
        LOGIN: (f"{base}/auth/login", {}, post_script(tmp, "login", login), BARE),
    }


def argon2_verify_ms(env: dict[str, str]) -> float:
    """The median time of one argon2 verify with the server's own parameters, in this process."""
    os.environ.update(env)
    passwords = services(create_app(load_settings())).passwords
    hashed = passwords.hash(PASSWORD)
    samples = []
    for _ in range(15):
        started = time.perf_counter()
        passwords.verify(hashed, PASSWORD)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def run(options: argparse.Namespace, env: dict[str, str], world: World, tmp: str) -> None:
    config = ("-c", "gunicorn.conf.py") if options.production_config else ()
    gunicorn, base = start_gunicorn(
        "benchmarks.bench_app:create_bench_app()", options.workers, env, "/healthz", config
    )
    servers = [gunicorn]
    try:
        routes = our_routes(base, world, tmp)
        if options.only:
            routes = {k: v for k, v in routes.items() if k == BARE or options.only in k}
        if options.peers:
            peers, more = peer_routes(options.workers, f"{tmp}/peers")
            servers.append(peers)
            routes |= more
        for name, (url, headers, script, _) in routes.items():  # warm-up: workers, caches, connections
            wrk(url, 1, 1 if name == LOGIN else options.connections, headers, script)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in routes}
        single: dict[str, list[float]] = {BARE: [], LOGIN: []}  # one connection: latency
        verify: list[float] = []
        for _ in range(options.rounds):  # interleaved, so that noise hits every route alike
            for name, (url, headers, script, _) in routes.items():
                if name != LOGIN:
                    samples[name].append(wrk(url, options.seconds, options.connections, headers, script))
            # Login: its latency on one connection against the bare route's, and argon2 alone.
            for name in (BARE, LOGIN):
                url, headers, script, _ = (
                    routes[name] if name in routes else our_routes(base, world, tmp)[name]
                )
                single[name].append(wrk(url, options.seconds, 1, headers, script)[1])
            verify.append(argon2_verify_ms(env))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    report(options, env, routes, samples, single, verify)


def report(
    options: argparse.Namespace,
    env: dict[str, str],
    routes: Routes,
    samples: dict[str, list[tuple[float, float]]],
    single: dict[str, list[float]],
    verify: list[float],
) -> None:
    database = env["AUTHZ_DATABASE_URL"].split(":", 1)[0] + (" + redis" if "AUTHZ_REDIS_URL" in env else "")
    print(
        f"gunicorn {options.workers} {'gevent (gunicorn.conf.py)' if options.production_config else 'sync'} "
        f"workers, wrk {options.connections} connections, "
        f"{options.rounds} x {options.seconds}s per route, database {database}, "
        f"{options.users:,} users in the tenant"
    )
    rate = {name: statistics.median(r for r, _ in values) for name, values in samples.items() if values}
    latency = {name: statistics.median(ms for _, ms in values) for name, values in samples.items() if values}
    for name, median in rate.items():
        baseline = rate[routes[name][3]]
        per = BATCH if "batch" in name else 1
        print(
            f"{name:<44} {median:>8.0f} req/s  {median / baseline:5.2f}x of its bare route"
            + (f"   {median * per:.0f} evaluations/s" if per > 1 else "")
        )
    one, batch = "AuthZEN evaluation (1)", "AuthZEN evaluations (batch of 100)"
    if one in latency and batch in latency:
        print(f"{'batch of 100 latency / one evaluation':<44} {latency[batch] / latency[one]:>8.2f}x")
    deep, first = "users page of 20 (after 90%)", "users page of 20 (first)"
    if deep in rate and first in rate:
        print(f"{'users page after 90% / first page':<44} {rate[deep] / rate[first]:>8.2f}x")
    login_ms, bare_ms, verify_ms = (statistics.median(v) for v in (single[LOGIN], single[BARE], verify))
    print(
        f"{'login, one connection':<44} {login_ms:>8.2f} ms = argon2 verify {verify_ms:.2f} ms"
        f" + bare request {bare_ms:.2f} ms + {login_ms - verify_ms - bare_ms:.2f} ms"
        f" ({login_ms / verify_ms:.2f}x the verify)"
    )


if __name__ == "__main__":
    main()
