"""What the users routes accept and answer."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints

from app.schemas import NO_CONTROL, PageQuery, StrictBody, TenantPath, never_null, omittable
from app.security.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from app.security.usernames import username_problem
from models import User, username_key

if TYPE_CHECKING:
    from app.users.service import UserListed

MAX_USERNAME_LENGTH = 150  # the width of users.username and users.username_key
MAX_ROLES_PER_REQUEST = 100
# Control, format (zero-width, bidi marks and overrides), surrogate, private-use, unassigned
# and line/paragraph separators: invisible or misleading in a name people read (UTS #39).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def normalise_username(value: str) -> str:
    """The username as stored: NFKC, checked again after normalisation, which can
    change its length (API.md: compared case-insensitively after Unicode NFKC). New names
    must also pass RFC 8265 and the one-script rule (app.security.usernames)."""
    problem = username_problem(value)
    if problem:
        raise ValueError(problem)
    value = unicodedata.normalize("NFKC", value)
    if not value or len(value) > MAX_USERNAME_LENGTH or len(username_key(value)) > MAX_USERNAME_LENGTH:
        raise ValueError(f"must be 1 to {MAX_USERNAME_LENGTH} characters after Unicode normalisation")
    if value != value.strip():
        raise ValueError("must not begin or end with whitespace")
    if any(unicodedata.category(char) in INVISIBLE_CATEGORIES for char in value):
        raise ValueError("must not contain control, format or bidirectional characters")
    return value


Username = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_USERNAME_LENGTH, pattern=NO_CONTROL),
    AfterValidator(normalise_username),
]
# Checked here, before the password is ever hashed (bounded hashing work, ASVS V2.1.1/V2.1.2).
Password = Annotated[str, StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_CONTROL)]
RoleNames = Annotated[list[RoleName], Field(max_length=MAX_ROLES_PER_REQUEST)]
SearchText = Annotated[str, StringConstraints(min_length=1, max_length=320, pattern=NO_CONTROL)]


class UserPath(TenantPath):
    uid: uuid.UUID


class UserListQuery(PageQuery):
    q: SearchText | None = Field(default=None, description="Part of the username or email, any case.")
    role: RoleName | None = Field(default=None, description="Only holders of the role of this name.")
    is_active: bool | None = None


class UserCreate(StrictBody):
    username: Username
    password: Password
    email: EmailStr | None = None
    roles: RoleNames = []


class UserUpdate(StrictBody):
    """Only these three; roles change through PUT .../roles, nothing else changes at all."""

    email: EmailStr | None = None  # null removes the address
    is_active: bool | None = omittable()
    password: Password | None = omittable()

    _not_null = never_null("is_active", "password")


class RolesReplace(StrictBody):
    roles: RoleNames


class UserOut(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    username: str
    email: str | None
    is_active: bool
    roles: list[str]
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User | UserListed) -> UserOut:
        """Field by field: the password hash is never read into a response."""
        return cls(
            id=user.id,
            tenant_id=user.tenant_id,
            username=user.username,
            email=user.email,
            is_active=user.is_active,
            roles=user.role_names,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None
