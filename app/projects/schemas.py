from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from app.schemas import Name, Out, PageQuery, StrictBody, TenantPath


class ProjectPath(TenantPath):
    pid: uuid.UUID


class ProjectListQuery(PageQuery):
    owner_id: uuid.UUID | None = None


class ProjectCreate(StrictBody):
    name: Name


class ProjectUpdate(StrictBody):
    name: Name


class ProjectOut(Out):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None
    created_at: datetime


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    next_cursor: str | None
