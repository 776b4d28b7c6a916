"""Structured logs: one JSON object a line through the standard `logging` module, with the
request's id, route and principal on every line written while it is served.

- `X-Request-ID` is honoured when it is 1-128 visible ASCII characters, else replaced by
  one of ours; every response echoes it, and the audit events of the request carry it.
- One `request` line per request: method, route template, status, duration, tenant and
  subject ids. Never a query string, header, body or token; the development server's own
  request line (with the query string) is dropped.
- SQLAlchemy's loggers stay at WARNING whatever the root level: at INFO they would print
  every statement's parameters, password hashes among them.

gunicorn's own loggers use the same configuration (`gunicorn.conf.py`, `logconfig_dict`).
"""

from __future__ import annotations

import logging
import logging.config
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# API.md: the caller's id when it is 1-128 visible ASCII characters, else one of ours.
VALID_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
REQUEST_LOG = logging.getLogger("authz.request")
JSON_FIELDS = ("asctime", "levelname", "name", "message")
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "message": "event"}


class RequestFields(logging.Filter):
    """Adds the current request's id, method, route, tenant and subject to a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
            record.method = request.method
            record.route = request.url_rule.rule if request.url_rule else None
            principal = g.get("authz_principal")
            if principal is not None:
                record.tenant_id = str(principal.tenant_id)
                record.subject_id = principal.subject
        return True


class NoDevServerRequestLines(logging.Filter):
    """Drops the request line `flask run` (werkzeug's development server) logs for each
    request: it carries the query string, and the app logs every request itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "werkzeug" and str(record.msg).rstrip().endswith('"%s" %s %s'))


def json_formatter() -> logging.Formatter:
    """time, level, logger, event, then every field the record carries (JSON, one line)."""
    return JsonFormatter(list(JSON_FIELDS), rename_fields=RENAMED, datefmt="%Y-%m-%dT%H:%M:%S%z")


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """The `logging.config.dictConfig` of the service, gunicorn's loggers included."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request", "dev_server"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestFields}, "dev_server": {"()": NoDevServerRequestLines}},
        "formatters": {
            "json": {"()": json_formatter},
        },
        "handlers": {"stderr": {**handler, "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            # Every request is logged once, by the app (authz.request), with more to say.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "sqlalchemy": {"level": "WARNING"},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    """JSON logs for a process nobody configured (`flask run`, a bare gunicorn)."""
    if not logging.getLogger().handlers:
        logging.config.dictConfig(logging_config(level))


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def request_seconds() -> float | None:
    """Seconds since the current request entered the app (None before our first hook)."""
    started = g.get("request_started")
    return time.perf_counter() - started if started is not None else None


def init_request_logging(app: Flask) -> None:
    """Register first, so that every later hook and error already has the request id."""

    @app.before_request
    def _assign_request_id() -> None:
        g.request_started = time.perf_counter()
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = offered if VALID_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex

    @app.after_request
    def _echo_and_log(response: Response) -> Response:
        if "request_id" not in g:  # a response made before our first hook ran
            g.request_id = uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = g.request_id
        seconds = request_seconds()
        duration_ms = round(seconds * 1000, 2) if seconds is not None else None
        REQUEST_LOG.info("request", extra={"status": response.status_code, "duration_ms": duration_ms})
        return response
