"""What the auth routes accept and answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from app.schemas import NO_CONTROL, Out, StrictBody
from app.security.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

# No control characters: no tenant or username holds one (and PostgreSQL refuses NUL).
Slug = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=NO_CONTROL)]
LoginName = Annotated[str, StringConstraints(min_length=1, max_length=150, pattern=NO_CONTROL)]
# Any length up to the cap is checked by hashing, so that every wrong password costs the same.
LoginPassword = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class LoginBody(StrictBody):
    tenant: Slug | None = None
    username: LoginName
    password: LoginPassword


def document_login_tenant(schemas: dict[str, Any], default_tenant: str | None) -> None:
    """`tenant` may be left out only where a default tenant is configured: the document says
    what this deployment accepts (a generated client or a fuzzer would otherwise omit it)."""
    login = schemas.get(LoginBody.__name__)
    if login is None or default_tenant is not None:
        return
    tenant = login["properties"]["tenant"]
    branches = [b for b in tenant.get("anyOf", []) if b.get("type") != "null"]
    login["properties"]["tenant"] = {**branches[0], "title": tenant.get("title", "Tenant")}
    login["required"] = ["tenant", *[name for name in login.get("required", []) if name != "tenant"]]


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


class MeClientOut(BaseModel):
    client_id: str


class MeOut(BaseModel):
    """`user` for a user's token, `client` for an integration client's; `session_id` for users."""

    user: MeUserOut | None = None
    client: MeClientOut | None = None
    tenant: TenantOut
    roles: list[str]
    permissions: list[str]
    session_id: uuid.UUID | None = None


class ProtectedOut(BaseModel):
    logged_in_as: str


class PasswordChangeBody(StrictBody):
    current_password: LoginPassword
    # The service checks the length (and says so in its own words); the document says it too.
    new_password: Annotated[LoginPassword, Field(json_schema_extra={"minLength": MIN_PASSWORD_LENGTH})]


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
