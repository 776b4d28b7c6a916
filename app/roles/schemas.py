from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.schemas import (
    AT_LEAST_ONE_FIELD,
    NO_CONTROL,
    Out,
    PermissionNames,
    StrictBody,
    TenantPath,
    never_null,
    omittable,
)
from policies import BuiltinRole

ROLE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
RESERVED_NAMES = frozenset(r.value for r in BuiltinRole)


def _not_reserved(name: str) -> str:
    # Every tenant may one day hold any built-in role; a custom "admin" would be mistaken for it.
    if name in RESERVED_NAMES:
        raise PydanticCustomError("reserved_name", "is reserved for a built-in role")
    return name


RoleName = Annotated[
    str,
    StringConstraints(pattern=ROLE_NAME_PATTERN),
    AfterValidator(_not_reserved),
    Field(json_schema_extra={"not": {"enum": sorted(RESERVED_NAMES)}}),
]
Description = Annotated[str, StringConstraints(max_length=500, pattern=NO_CONTROL)]


class RolePath(TenantPath):
    rid: uuid.UUID


class RoleCreate(StrictBody):
    name: RoleName
    description: Description = ""
    permissions: PermissionNames


class RoleUpdate(StrictBody):
    """Any of the fields; an absent one is left as it is, a null one is refused."""

    model_config = AT_LEAST_ONE_FIELD

    name: RoleName | None = omittable()
    description: Description | None = omittable()
    permissions: PermissionNames | None = omittable()

    _not_null = never_null("name", "description", "permissions")

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
