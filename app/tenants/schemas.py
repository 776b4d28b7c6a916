from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.schemas import AT_LEAST_ONE_FIELD, Name, Out, PageQuery, StrictBody, never_null, omittable
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

    _not_null = never_null("name", "status")

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
