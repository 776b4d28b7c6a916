"""Schema building blocks shared by every area: strict bodies, problems, pages."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from policies.catalog import Permission


class StrictBody(BaseModel):
    """A request body: unknown fields are rejected (no mass assignment), types are exact."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False)


class Query(BaseModel):
    """Query parameters arrive as strings; unknown ones are rejected too."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TenantPath(BaseModel):
    tid: uuid.UUID


class FieldErrorOut(BaseModel):
    field: str
    message: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details, with our stable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldErrorOut] | None = None
    required_permissions: list[str] | None = None


# Reject C0/C1 control characters and bidi overrides in names people will read elsewhere.
NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*$"
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL)]
Limit = Annotated[int, Field(ge=1, le=100)]


class PageQuery(Query):
    limit: Limit = 20
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None


def page_of(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}


PROBLEM_RESPONSES: dict[int, Any] = {
    401: ProblemOut,
    403: ProblemOut,
    404: ProblemOut,
    422: ProblemOut,
}
# Routes with a rate limit (app.security.rate_limits) also answer 429 with Retry-After.
LIMITED_RESPONSES: dict[int, Any] = {**PROBLEM_RESPONSES, 429: ProblemOut}


_CATALOG = frozenset(p.value for p in Permission)


def _in_catalog(value: Any) -> Any:
    """Unknown or repeated names, as one error on the field (the names themselves are not echoed)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        unknown = [str(i) for i, v in enumerate(value) if v not in _CATALOG]
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


# Permissions named in a body (a role's permissions, a client's scopes): catalog members only.
PermissionNames = Annotated[list[Permission], Field(max_length=len(Permission)), BeforeValidator(_in_catalog)]
