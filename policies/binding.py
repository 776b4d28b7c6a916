"""Binding a request to the models a view declares (`path`, `query`, `body`), after the
policy has allowed it.

The view's annotations are read once, at decoration time; flask-openapi3 reads the same
annotations for the OpenAPI document. Binding here instead of in flask-openapi3 puts it
behind authorization (unauthenticated input is never parsed) and keeps schema generation
off the request path.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import request
from pydantic import BaseModel, ValidationError

from policies.problems import BadRequest, FieldError, ValidationFailed

UNSUPPORTED = ("header", "cookie", "form", "raw")


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic errors reduced to field and message: `input` would echo a password back."""
    errors = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        errors.append(FieldError(field, error["msg"]))
    return errors


@dataclass(frozen=True)
class RequestModels:
    path: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None

    @classmethod
    def of(cls, view: Callable[..., Any]) -> RequestModels:
        hints = typing.get_type_hints(view)
        unsupported = [name for name in UNSUPPORTED if name in hints]
        if unsupported:
            raise TypeError(f"{view.__qualname__}: binding {unsupported} is not supported")
        return cls(hints.get("path"), hints.get("query"), hints.get("body"))

    def bind(self, view_args: Mapping[str, Any], *, strict_input: bool = True) -> dict[str, Any]:
        """The view's keyword arguments; raises ValidationFailed (422) or BadRequest (400).

        With `strict_input`, a route that declares no query model takes no query parameter:
        one sent anyway is a 422, not silently ignored (a misspelt filter must not widen a list).
        """
        kwargs = dict(view_args)
        errors: list[FieldError] = []
        if self.path is not None:
            values = {name: kwargs.pop(name) for name in self.path.model_fields if name in kwargs}
            kwargs["path"] = self._validate(self.path.model_validate, values, errors)
        if self.query is not None:
            kwargs["query"] = self._validate(self.query.model_validate, _single_valued_args(errors), errors)
        elif strict_input:
            errors.extend(FieldError(key, "is not a parameter of this operation") for key in request.args)
        if self.body is not None:
            kwargs["body"] = self._bind_body(self.body, errors)
        if errors:
            raise ValidationFailed(errors)
        return kwargs

    @staticmethod
    def _validate(validate: Callable[[Any], BaseModel], data: Any, errors: list[FieldError]) -> Any:
        try:
            return validate(data)
        except ValidationError as exc:
            errors.extend(field_errors(exc))
            return None

    @staticmethod
    def _bind_body(model: type[BaseModel], errors: list[FieldError]) -> Any:
        raw = request.get_data(cache=True)
        if not raw.strip():
            errors.append(FieldError("body", "A JSON object is required"))
            return None
        try:
            # JSON mode: strict types as JSON has them (a UUID arrives as a string).
            return model.model_validate_json(raw)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise BadRequest("The request body is not valid JSON.") from None
            errors.extend(field_errors(exc))
            return None


def _single_valued_args(errors: list[FieldError]) -> dict[str, str]:
    """Query parameters, refusing a repeated one (HTTP parameter pollution)."""
    values: dict[str, str] = {}
    for key in request.args:
        given = request.args.getlist(key)
        if len(given) > 1:
            errors.append(FieldError(key, "must be given once"))
        values[key] = given[0]
    return values
