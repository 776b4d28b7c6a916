"""Bodies and answers of `/tenants/{tid}/resources`."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from app.schemas import Out, PageQuery, StrictBody, TenantPath

TYPE_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
# Printable, no control characters (API.md: 1 to 256 printable characters, the platform's own id).
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]{1,256}$"
MAX_PROPERTIES_BYTES = 4096

ResourceType = Annotated[str, StringConstraints(pattern=TYPE_PATTERN)]
ResourceId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=ID_PATTERN)]


class ResourcePath(TenantPath):
    type: ResourceType
    resource_id: ResourceId


class ResourceListQuery(PageQuery):
    type: ResourceType | None = None


class ResourcePut(StrictBody):
    owner_id: Annotated[uuid.UUID | None, Field(strict=False)] = None
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("properties")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_PROPERTIES_BYTES:
            raise PydanticCustomError("too_large", "must be at most 4 KiB of JSON")
        return value


class ResourceOut(Out):
    type: str
    id: str
    owner_id: uuid.UUID | None
    properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ResourcePage(BaseModel):
    items: list[ResourceOut]
    next_cursor: str | None
