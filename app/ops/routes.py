"""Operator endpoints: liveness and readiness."""

from __future__ import annotations

import logging
from typing import Any

from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.database import database
from policies import public

log = logging.getLogger(__name__)
bp = APIBlueprint("ops", __name__, abp_tags=[Tag(name="operations")])


@bp.get("/healthz")
@public("liveness probe for orchestrators")
def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
@public("readiness probe for orchestrators")
def readyz() -> tuple[dict[str, Any], int]:
    """The database answers (503 when it does not)."""
    try:
        with database().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("readiness check: database unavailable")
        return {"status": "unavailable", "checks": {"database": "down"}}, 503
    return {"status": "ok", "checks": {"database": "up"}}, 200
