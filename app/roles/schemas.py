from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.schemas import NO_CONTROL, Out, StrictBody, TenantPath
from policies import BuiltinRole, Permission

ROLE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
CATALOG = frozenset(p.value for p in Permission)
RESERVED_NAMES = frozenset(r.value for r in BuiltinRole)


def _not_reserved(name: str) -> str:
    # Every tenant may one day hold any built-in role; a custom "admin" would be mistaken for it.
    if name in RESERVED_NAMES:
        raise PydanticCustomError("reserved_name", "is reserved for a built-in role")
    return name


def _in_catalog(value: Any) -> Any:
    """Unknown or repeated names, as one error on the field (the names themselves are not echoed)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        unknown = [str(i) for i, v in enumerate(value) if v not in CATALOG]
        if unknown:
            where = ("item " if len(unknown) == 1 else "items ") + ", ".join(unknown)
            raise PydanticCustomError(
                "unknown_permission",
                "{where} not in the permission catalog (see GET /permissions)",
                {"where": where + (" is" if len(unknown) == 1 else " are")},
            )
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_permission", "lists a permission more than once")
    return value


RoleName = Annotated[str, StringConstraints(pattern=ROLE_NAME_PATTERN), AfterValidator(_not_reserved)]
Description = Annotated[str, StringConstraints(max_length=500, pattern=NO_CONTROL)]
PermissionNames = Annotated[list[Permission], Field(max_length=len(Permission)), BeforeValidator(_in_catalog)]


class RolePath(TenantPath):
    rid: uuid.UUID


class RoleCreate(StrictBody):
    name: RoleName
    description: Description = ""
    permissions: PermissionNames


class RoleUpdate(StrictBody):
    """Any of the fields; an absent one is left as it is, a null one is refused."""

    name: RoleName | None = None
    description: Description | None = None
    permissions: PermissionNames | None = None

    @field_validator("name", "description", "permissions", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("not_null", "may be left out, but not null")
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> RoleUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "give at least one of name, description, permissions")
        return self


class RoleOut(Out):
    id: uuid.UUID
    name: str
    description: str
    permissions: list[str]
    builtin: bool
    created_at: datetime


class RolePage(BaseModel):
    items: list[RoleOut]
    next_cursor: str | None
