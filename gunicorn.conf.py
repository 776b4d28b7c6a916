"""The production server: `gunicorn -c gunicorn.conf.py 'app:create_app()'`.

- gevent workers: each connection is a greenlet, so clients sending a byte a second cost
  a socket each, not a worker (sync and gthread workers stalled every other client with
  50 such connections; see docs/operations.md for the measurement). psycopg and redis-py
  cooperate with gevent once the standard library is patched, which happens first here,
  before anything imports them.
- Logs: one JSON object a line for the app and gunicorn alike (app.logs); the app logs
  each request, so gunicorn's plain access log is off.
- Metrics: every worker writes to one prometheus-client multiprocess directory, made here
  unless PROMETHEUS_MULTIPROC_DIR names one, and emptied at start.
- Start-up refusals (unsafe production settings, no signing key) print one line and exit.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402 - after patching, as gevent requires
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="authz-metrics-"))

from app.logs import logging_config  # noqa: E402 - prometheus-client reads the variable at import
from app.startup import startup_problem  # noqa: E402

# Refuse before anything else is printed, in one line, what the workers would refuse.
if (_problem := startup_problem()) is not None:
    print(f"authz: {_problem}", file=sys.stderr)
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    sys.exit(1)

bind = ["127.0.0.1:8000"]
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
worker_connections = 1000
timeout = 30
graceful_timeout = 20
keepalive = 5
control_socket_disable = True
accesslog = None
logconfig_dict = logging_config(os.environ.get("AUTHZ_LOG_LEVEL", "INFO"))


def on_starting(server: object) -> None:
    metrics = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    metrics.mkdir(parents=True, exist_ok=True)
    for stale in metrics.glob("*.db"):  # counts of a previous run would be summed in
        stale.unlink()


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
