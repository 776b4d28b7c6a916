"""Hypothesis profiles: `ci` (CI=true) runs a fixed number of examples without a deadline, so
that a CI run takes the same, bounded time; `dev` is quicker for local runs. Choose one with
HYPOTHESIS_PROFILE."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

# Hypothesis keeps its example database and caches outside the repository (read lazily, so
# this holds although its pytest plugin is imported first); the variable may be set outside.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "authz-api-hypothesis")
)

COMMON = {
    "deadline": None,  # requests hash passwords and touch a real database: no per-example limit
    "suppress_health_check": [HealthCheck.too_slow],
    "print_blob": True,
}

settings.register_profile("ci", max_examples=15, stateful_step_count=20, derandomize=True, **COMMON)
settings.register_profile("dev", max_examples=10, stateful_step_count=15, **COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
