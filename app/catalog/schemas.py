"""Bodies and answers of `/permissions`."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from app.schemas import AT_LEAST_ONE_FIELD, NO_CONTROL, Out, PageQuery, StrictBody, never_null, omittable
from policies.catalog import BUILTIN_NAMES, PERMISSION_NAME, is_application_name

Description = Annotated[str, StringConstraints(max_length=500, pattern=NO_CONTROL)]
# `<resource>:<action>` (policies.catalog.PERMISSION_NAME), at most 127 characters.
PermissionName = Annotated[str, StringConstraints(max_length=127, pattern=PERMISSION_NAME.pattern)]


def _application_name(value: object) -> object:
    """Well-formed and not platform:* (a built-in name is a 409 from the service: it exists)."""
    if isinstance(value, str) and not (value in BUILTIN_NAMES or is_application_name(value)):
        raise PydanticCustomError(
            "permission_name",
            "must be <resource>:<action> (lowercase letters, digits, '_', '-'), not built-in, not platform:*",
        )
    return value


class PermissionCreate(StrictBody):
    name: PermissionName
    description: Description = ""
    owner_override: PermissionName | None = None
    member: bool = False

    @field_validator("name")
    @classmethod
    def _application(cls, value: str) -> str:
        _application_name(value)
        return value


class PermissionUpdate(StrictBody):
    model_config = AT_LEAST_ONE_FIELD

    description: Description | None = omittable()
    owner_override: PermissionName | None = None
    member: bool | None = omittable()

    _not_null = never_null("description", "member")

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of: description, owner_override, member")
        return self


class PermissionPath(BaseModel):
    name: PermissionName


class PermissionOut(Out):
    name: str
    description: str
    builtin: bool
    platform_only: bool
    owner_override: str | None
    member: bool


class CatalogOut(BaseModel):
    items: list[PermissionOut]
    next_cursor: str | None


class CatalogQuery(PageQuery):
    limit: Annotated[int, Field(ge=1, le=100)] = 100
