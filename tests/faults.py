"""Services of the fault tests' own: a PostgreSQL cluster and a Redis on free ports, to stop,
pause and restore. The machine's shared PostgreSQL and Redis are never touched.

Tests using them skip, saying why, only where the binaries are not installed (CI has them).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, make_url, text

from tests.databases import upgrade
from tests.servers import free_port

PG_BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))


def postgres_bin() -> Path | None:
    found = [Path(d) for d in PG_BIN_DIRS if (Path(d) / "initdb").exists()]
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_postgres_binaries() -> Path:
    found = postgres_bin()
    if found is None:
        pytest.skip("needs PostgreSQL's server binaries (initdb, pg_ctl) to run a cluster of its own")
    return found


def require_redis_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        pytest.skip("needs redis-server to run a Redis of its own")
    return found


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` system user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class OwnPostgres:
    """A throw-away cluster: trust authentication on 127.0.0.1, fsync off."""

    def __init__(self, binaries: Path) -> None:
        self.bin = binaries
        self.base = Path(tempfile.mkdtemp(prefix="authz-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self, label: str) -> str:
        """A new database on this cluster, migrated to head by Alembic; its URL."""
        name = f"{label}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(self.url).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        return url

    def _run(self, command: list[str]) -> None:
        subprocess.run(_as_postgres(command), check=True, capture_output=True, timeout=120)  # noqa: S603

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.base / "log"),
                "-w",
                "start",
            ]
        )

    def stop(self) -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def _processes(self) -> list[int]:
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        return [postmaster, *_children(postmaster)]

    def pause(self) -> None:
        """Freeze the server and every backend, as a stopped VM or SIGSTOP would."""
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGCONT)

    def destroy(self) -> None:
        try:
            self.resume()
            self.stop()
        except (OSError, subprocess.CalledProcessError):
            pass
        shutil.rmtree(self.base, ignore_errors=True)


class OwnRedis:
    """A Redis with its snapshot file in a directory of its own."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="authz-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, loopback only
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--dbfilename",
                "dump.rdb",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def snapshot(self) -> Path:
        """Save now and keep a copy: what an old backup or a lagging replica would hold."""
        redis.Redis.from_url(self.url).save()
        kept = self.dir / f"snapshot-{time.monotonic_ns()}.rdb"
        shutil.copy(self.dir / "dump.rdb", kept)
        return kept

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def restore(self, snapshot: Path) -> None:
        """Start again from an older snapshot (a restart from backup, a failover)."""
        shutil.copy(snapshot, self.dir / "dump.rdb")
        self.start()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def destroy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
