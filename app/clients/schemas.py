"""What the client routes and the token endpoint accept and answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from app.schemas import (
    AT_LEAST_ONE_FIELD,
    Name,
    Out,
    PermissionNames,
    StrictBody,
    TenantPath,
    never_null,
    omittable,
)


class ClientPath(TenantPath):
    cid: uuid.UUID


class ClientCreate(StrictBody):
    name: Name
    # An empty list is allowed: such a client can authenticate (e.g. to introspect) but holds nothing.
    scopes: PermissionNames


class ClientUpdate(StrictBody):
    """Rename, narrow the scopes, or re-own (`owner_id`, a user of the tenant); an absent
    field is left as it is, a null one is refused."""

    model_config = AT_LEAST_ONE_FIELD

    name: Name | None = omittable()
    scopes: PermissionNames | None = omittable()
    owner_id: uuid.UUID | None = omittable()

    _not_null = never_null("name", "scopes", "owner_id")

    @model_validator(mode="after")
    def _changes_something(self) -> ClientUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "give at least one of name, scopes, owner_id")
        return self


class ClientOut(Out):
    id: uuid.UUID
    client_id: str
    name: str
    scopes: list[str]
    # The owner: the user who created the client or last re-owned it (null once deleted).
    created_by: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ClientWithSecretOut(ClientOut):
    """A client with its secret: answered once, at creation or rotation, never again."""

    client_secret: str


class ClientPage(BaseModel):
    items: list[ClientOut]
    next_cursor: str | None


# --- POST /auth/token (RFC 6749 §4.4) ---------------------------------------------------

# Bounds well above any identifier or secret we issue: longer input is malformed, not unknown.
ClientIdParam = Annotated[str, StringConstraints(min_length=1, max_length=256)]
SecretParam = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class TokenRequest(BaseModel):
    """The token endpoint's parameters, from a form or a JSON body.

    Unlike the rest of the API, unknown parameters are ignored and not refused:
    RFC 6749 §3.2 says the authorization server MUST ignore unrecognized request parameters.
    """

    model_config = ConfigDict(extra="ignore", strict=True)

    grant_type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    scope: Annotated[str, StringConstraints(max_length=2048)] | None = None
    client_id: ClientIdParam | None = None
    client_secret: SecretParam | None = None


class TokenOut(BaseModel):
    """RFC 6749 §5.1; no refresh token for client credentials (§4.4.3)."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str


class OAuthErrorOut(BaseModel):
    """RFC 6749 §5.2."""

    error: str
    error_description: str | None = None


CLIENT_SECRET_POST = (
    " The client authenticates with HTTP Basic, or sends `client_id` and `client_secret` in "
    "this body (client_secret_post)."
)


def _form_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A body sent as a form (RFC 6749 §4.4.2, RFC 7662 §2.1) or the same object as JSON.

    Not `required`: a generated client cannot send a required body of two media types
    (openapi-python-client #1451), and an empty body is answered with an RFC 6749 error.
    The client authenticates with HTTP Basic (the `clientBasic` scheme); `client_id` and
    `client_secret` may instead be sent in the body (client_secret_post, RFC 6749 §2.3.1),
    which the description says rather than the schema (a secret without its id is refused,
    which JSON Schema tools do not all understand).
    """
    description += CLIENT_SECRET_POST
    # Other parameters are ignored (RFC 6749 §3.2), but each is one value: never repeated.
    schema = {**schema, "additionalProperties": {"type": "string"}}
    return {
        "required": False,
        "description": description,
        "content": {
            "application/x-www-form-urlencoded": {"schema": schema},
            "application/json": {"schema": schema},
        },
    }


def token_request_body_schema() -> dict[str, Any]:
    """The OpenAPI `requestBody` of the token endpoint: a form (RFC 6749) or the same as JSON."""
    schema = {
        "title": "TokenRequest",
        "type": "object",
        "required": ["grant_type"],
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "scope": {
                "type": "string",
                "pattern": r"\S",
                "description": "Space-separated subset of the client's scopes.",
            },
        },
    }
    return _form_body(schema, "RFC 6749 §4.4.2 access token request.")


def introspection_request_body_schema() -> dict[str, Any]:
    """The OpenAPI `requestBody` of the introspection endpoint (RFC 7662 §2.1)."""
    schema = {
        "title": "IntrospectionRequest",
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string", "minLength": 1, "description": "The token to describe."},
            "token_type_hint": {
                "type": "string",
                "description": "access_token or refresh_token: a hint only (RFC 7662 §2.1).",
            },
        },
    }
    # RFC 7662 §2.1 names the form only; a token is needed, so the body is required (and of
    # one media type, which a generated client can send).
    body = _form_body(schema, "RFC 7662 §2.1 introspection request.")
    del body["content"]["application/json"]
    return {**body, "required": True}


class IntrospectionOut(BaseModel):
    """RFC 7662 §2.2: `active`, and when active the token's claims."""

    model_config = ConfigDict(extra="allow")

    active: bool
    scope: str | None = None
    client_id: str | None = None
    token_type: str | None = None
    exp: int | None = None
    iat: int | None = None
    sub: str | None = None
