"""What the operator endpoints answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class LivenessOut(BaseModel):
    status: Literal["ok"]


class ReadinessOut(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["up", "down"]]


METRICS_RESPONSE = {
    "description": "Prometheus text exposition format.",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}
