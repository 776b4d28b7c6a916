"""What the auth routes accept and answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, StringConstraints

from app.schemas import NO_CONTROL, Out, StrictBody
from app.security.passwords import MAX_PASSWORD_LENGTH

# No control characters: no tenant or username holds one (and PostgreSQL refuses NUL).
Slug = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=NO_CONTROL)]
LoginName = Annotated[str, StringConstraints(min_length=1, max_length=150, pattern=NO_CONTROL)]
# Any length up to the cap is checked by hashing, so that every wrong password costs the same.
LoginPassword = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class LoginBody(StrictBody):
    tenant: Slug | None = None
    username: LoginName
    password: LoginPassword


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int


class TenantOut(Out):
    id: uuid.UUID
    slug: str
    name: str
    status: str
    created_at: datetime


class MeUserOut(Out):
    id: uuid.UUID
    username: str
    email: str | None
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class MeOut(BaseModel):
    user: MeUserOut | None = None
    client: dict[str, str] | None = None
    tenant: TenantOut
    roles: list[str]
    permissions: list[str]
    session_id: uuid.UUID | None = None


class ProtectedOut(BaseModel):
    logged_in_as: str


class PasswordChangeBody(StrictBody):
    current_password: LoginPassword
    new_password: LoginPassword


class SessionPath(BaseModel):
    sid: uuid.UUID


class SessionOut(Out):
    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    last_refreshed_at: datetime | None
    user_agent: str | None
    ip_address: str | None
    current: bool


class SessionList(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None
