"""The TOML file `flask permissions apply` reads: one table per application permission.

[permissions."invoices:approve"]
description = "Approve an invoice."
owner_override = "invoices:manage"
member = false
"""

from __future__ import annotations

import tomllib
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from app.catalog.schemas import Description, PermissionName, _application_name
from policies.catalog import BUILTIN_NAMES


class DefinitionError(ValueError):
    """The file cannot be applied; nothing was changed."""


class Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    description: Description = ""
    owner_override: PermissionName | None = None
    member: bool = False


def read_definitions(raw: bytes) -> list[dict[str, Any]]:
    """Validated definitions, or DefinitionError naming the first problem."""
    try:
        document = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"not valid TOML: {exc}") from None
    unknown = set(document) - {"permissions"}
    if unknown:
        raise DefinitionError(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    tables = document.get("permissions", {})
    if not isinstance(tables, dict):
        raise DefinitionError("'permissions' must be a table of tables")
    definitions = []
    for name, fields in tables.items():
        try:
            _application_name(name)
            definition = Definition.model_validate(fields)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            raise DefinitionError(f"{name}: {'.'.join(map(str, first['loc']))} {first['msg']}") from None
        except ValueError:
            raise DefinitionError(f"{name!r} is not a valid application permission name") from None
        definitions.append({"name": name, **definition.model_dump()})
    names = {d["name"] for d in definitions}
    for d in definitions:
        override = d["owner_override"]
        if override is not None and (
            override == d["name"] or (override not in names and override not in BUILTIN_NAMES)
        ):
            raise DefinitionError(
                f"{d['name']}: owner_override {override!r} is not defined in the file or built in"
            )
    return definitions
