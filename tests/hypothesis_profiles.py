"""Hypothesis profiles: `ci` (CI=true) runs a fixed number of examples without a deadline, so
that a CI run takes the same, bounded time; `dev` is quicker for local runs. Choose one with
HYPOTHESIS_PROFILE."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

COMMON = {
    "deadline": None,  # requests hash passwords and touch a real database: no per-example limit
    "suppress_health_check": [HealthCheck.too_slow],
    "print_blob": True,
}

settings.register_profile("ci", max_examples=15, stateful_step_count=20, derandomize=True, **COMMON)
settings.register_profile("dev", max_examples=10, stateful_step_count=15, **COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
