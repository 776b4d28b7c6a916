"""Operator endpoints: liveness and readiness."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.database import database
from app.metrics import exposition
from app.ops.schemas import METRICS_RESPONSE, LivenessOut, ReadinessOut
from app.redis_health import redis_health
from policies import public

log = logging.getLogger(__name__)
bp = APIBlueprint("ops", __name__, abp_tags=[Tag(name="operations")])


@bp.get("/healthz", responses={200: LivenessOut}, operation_id="checkLiveness")
@public("liveness probe for orchestrators")
def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz", responses={200: ReadinessOut, 503: ReadinessOut}, operation_id="checkReadiness")
@public("readiness probe for orchestrators")
def readyz() -> tuple[dict[str, Any], int]:
    """The database answers, and Redis when configured (503 when either does not)."""
    checks = {"database": "up"}
    try:
        with database().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("readiness check: database unavailable")
        checks["database"] = "down"
    cache = redis_health()
    if cache is not None:
        checks["redis"] = "up" if cache.ping() else "down"
    ready = all(state == "up" for state in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@bp.get("/metrics", responses={200: METRICS_RESPONSE}, operation_id="getMetrics")
@public("Prometheus scrape endpoint for operators")
def metrics() -> Response:
    """Prometheus text: requests by route and status, latency, policy denials."""
    return exposition()
