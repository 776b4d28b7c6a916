"""Prometheus metrics: requests by route and status, their latency, and policy denials.

Under gunicorn.conf.py every worker writes to one multiprocess directory (the config
makes it) and the scrape sums them; a single process counts in memory.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from app.logs import request_seconds

REQUESTS = Counter("authz_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "authz_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DENIALS = Counter("authz_policy_denials_total", "Requests the policy layer refused", ["route", "status"])
INTROSPECTIONS = Counter(
    "authz_token_introspections_total", "RFC 7662 introspections answered", ["caller", "active"]
)
# Throttled attempts are counted here rather than audited one by one (issue 15).
RATE_LIMITED = Counter(
    "authz_rate_limited_total", "Requests refused by a rate limit or the login backoff", ["route", "limit"]
)


# The methods counted by name; any other (a client may send any token) is counted as OTHER,
# so that callers cannot create series at will.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """The latency and count series of each (method, route, status), looked up once: a
    `labels()` call costs more than the observation itself."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float | None) -> None:
        if method not in KNOWN_METHODS:
            method = "OTHER"
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                LATENCY.labels(method, route),
                REQUESTS.labels(method, route, str(status)),
            )
        if seconds is not None:
            series[0].observe(seconds)
        series[1].inc()


def init_metrics(app: Flask) -> None:
    metrics = RequestMetrics()

    @app.after_request
    def _count(response: Response) -> Response:
        # The route template, never the raw path: ids would explode the label space.
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.observe(request.method, route, response.status_code, request_seconds())
        return response


def exposition() -> Response:
    """The Prometheus text format, summed over workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    # content_type, not mimetype: CONTENT_TYPE_LATEST names its charset already, and
    # Flask would add a second one to a mimetype.
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)
