"""Real servers for the tests that need one: a thread serving an app, or gunicorn workers."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# The client-secret key of the servers and seeding apps the tests start: given, so that none
# of them writes a development key into the repository's instance/ folder.
CLIENT_SECRET_KEY = "tests-only-client-secret-key-" + "0123456789abcdef" * 3


@contextmanager
def serve_in_thread(app: Flask) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], workers: int = 2) -> Iterator[str]:
    """Run `app_spec` under gunicorn with several sync workers on 127.0.0.1."""
    port = free_port()
    # gunicorn 27 opens a control socket under ~/.gunicorn unless told not to.
    control = (
        ["--no-control-socket"] if int(importlib.metadata.version("gunicorn").split(".")[0]) >= 27 else []
    )
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, loopback only
        [sys.executable, "-m", "gunicorn", *control, "-w", str(workers), "-b", f"127.0.0.1:{port}", app_spec],
        cwd=ROOT,
        env={**os.environ, "AUTHZ_CLIENT_SECRET_KEY": CLIENT_SECRET_KEY, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}"
                    ) from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


# The README's production command; tests add only the address and the worker count.
PRODUCTION_COMMAND = ["gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]


@contextmanager
def production_server(env: dict[str, str], log: Path, workers: int = 2) -> Iterator[str]:
    """The README's production command on a free port; its stderr (the logs) goes to `log`."""
    port = free_port()
    command = [sys.executable, "-m", *PRODUCTION_COMMAND[:3], "-b", f"127.0.0.1:{port}", "-w", str(workers)]
    with log.open("ab") as sink:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments, loopback only
            [*command, PRODUCTION_COMMAND[3]],
            cwd=ROOT,
            env={**os.environ, "AUTHZ_CLIENT_SECRET_KEY": CLIENT_SECRET_KEY, **env},
            stdout=sink,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {log.read_text()[-3000:]}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: tests need no grace
        process.wait(timeout=30)


def seeding_app(database_url: str, key_dir: Path, issuer: str) -> Flask:
    """An app on the database of the servers a test starts, to seed it before they serve."""
    return create_app(
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=database_url,
            key_dir=key_dir,
            issuer=issuer,
            client_secret_key=CLIENT_SECRET_KEY,
        )
    )
