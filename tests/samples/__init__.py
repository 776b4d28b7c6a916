"""Valid sample inputs for the permission matrix, one module per area.

Each module defines `BODIES = {endpoint: lambda world: body}` for the routes of its area
that take a body. They are inputs, not expectations: the matrix derives every expected
status from the declared policies.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

Body = Callable[[Any], dict[str, Any]]


def all_bodies() -> dict[str, Body]:
    bodies: dict[str, Body] = {}
    for module in pkgutil.iter_modules(__path__):
        bodies.update(importlib.import_module(f"{__name__}.{module.name}").BODIES)
    return bodies
