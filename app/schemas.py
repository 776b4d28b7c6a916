"""Schema building blocks shared by every area: strict bodies, problems, pages."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from flask_openapi3.types import ResponseDict
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from policies.catalog import BUILTIN_NAMES, is_application_name


class StrictBody(BaseModel):
    """A request body: unknown fields are rejected (no mass assignment), types are exact."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False)


def _never_null(schema: dict[str, Any]) -> None:
    """`T | None` documented as `T`, with no default: the field may be left out, never null."""
    schema.pop("default", None)
    branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches


def omittable() -> Any:
    """The default of a body field `T | None` that may be left out but is never null (the
    model's validators refuse one): the document offers no null either."""
    return Field(default=None, json_schema_extra=_never_null)


def _refuse_null(cls: type, value: Any) -> Any:
    # Runs only for values actually sent: leaving a field out keeps it, `null` is no value.
    if value is None:
        raise PydanticCustomError("not_null", "may be left out, but not null")
    return value


def never_null(*fields: str) -> Any:
    """A partial update's validator: `fields` may be left out, never sent as null
    (`_not_null = never_null("name", ...)` in the model's body; pair with `omittable()`)."""
    return field_validator(*fields, mode="before")(classmethod(_refuse_null))


# A partial update: at least one field (the model's own validator says which).
AT_LEAST_ONE_FIELD = ConfigDict(json_schema_extra={"minProperties": 1})


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


# Error answers are derived for every operation from its policy and its models
# (app.openapi_document), so a route declares only what those cannot tell: a 409 of its
# service, or the 401 of a public route that checks credentials itself. Routes may still
# spread this (empty) mapping; it adds nothing.
PROBLEM_RESPONSES: ResponseDict = {}
# What a public route that checks credentials itself declares (login).
CREDENTIAL_PROBLEMS: ResponseDict = {401: ProblemOut, 403: ProblemOut}


def _in_catalog(value: Any) -> Any:
    """Malformed or repeated names, as one error on the field (the names themselves are not
    echoed). Whether an application name is defined is the grant guard's check (it reads the
    catalog now: policies.grants)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        unknown = [
            str(i) for i, v in enumerate(value) if v not in BUILTIN_NAMES and not is_application_name(v)
        ]
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
MAX_NAMED_PERMISSIONS = 500
PermissionNames = Annotated[
    list[str],
    Field(max_length=MAX_NAMED_PERMISSIONS, json_schema_extra={"uniqueItems": True}),
    BeforeValidator(_in_catalog),
]
