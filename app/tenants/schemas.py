from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from app.schemas import AT_LEAST_ONE_FIELD, Name, Out, PageQuery, StrictBody, omittable
from models import PLATFORM_TENANT_SLUG
from models.tenant import TENANT_SLUG_PATTERN, TenantStatus

Slug = Annotated[str, StringConstraints(pattern=TENANT_SLUG_PATTERN)]


class TenantListQuery(PageQuery):
    status: TenantStatus | None = None


class TenantCreate(StrictBody):
    # `platform` is the platform tenant's own (a 422 `is reserved`).
    slug: Annotated[Slug, Field(json_schema_extra={"not": {"const": PLATFORM_TENANT_SLUG}})]
    name: Name


class TenantUpdate(StrictBody):
    """A partial update: only the fields given change; `null` is not a value for either."""

    model_config = AT_LEAST_ONE_FIELD

    name: Name | None = omittable()
    status: TenantStatus | None = omittable()

    @field_validator("name", "status", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, but not null")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of: name, status")
        return self


class TenantOut(Out):
    id: uuid.UUID
    slug: str
    name: str
    status: TenantStatus
    created_at: datetime


class TenantPage(BaseModel):
    items: list[TenantOut]
    next_cursor: str | None
