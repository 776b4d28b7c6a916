"""Reading AuthZEN 1.0 requests: strict enough per the specification, never stricter.

A malformed request (not JSON, an empty body, a wrong Content-Type, a missing or mistyped
`subject`, `action`, `resource`, `type`, `id` or `name`) is a 400; unknown fields are
ignored (the specification's forward compatibility). In a batch, an invalid item is
decided `false` with `reason_code: invalid_request`, its neighbours are still decided.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from flask import request

from app import strict_json
from policies.problems import BadRequest

MAX_EVALUATIONS = 1000
MAX_ID_LENGTH = 256
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
DEFAULT_PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 1000
# What no database can be asked about: PostgreSQL refuses a NUL in text, and every driver a
# lone surrogate (not UTF-8). JSON carries both; a name holding one names nothing we store.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


class Malformed(ValueError):
    """What is wrong with a request or one of its items (never the submitted value)."""


@dataclass(frozen=True)
class Subject:
    type: str
    id: str | None
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    name: str
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Resource:
    type: str
    id: str | None
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    subject: Subject
    action: Action
    resource: Resource
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    limit: int = DEFAULT_PAGE_LIMIT
    token: str = ""
    query: str = ""  # what the search asks (entities and context): its tokens are good for it only


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 (AuthZEN: not 415, not 422)."""
    if not request.is_json:
        raise BadRequest("Send the request as application/json.")
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadRequest("The request body is empty.")
    body = strict_json.parse(raw, refuse_duplicate_keys=False)  # AuthZEN ignores what it does not know
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


@overload
def _object(value: Any, where: str, *, required: Literal[True] = True) -> dict[str, Any]: ...
@overload
def _object(value: Any, where: str, *, required: bool) -> dict[str, Any] | None: ...
def _object(value: Any, where: str, *, required: bool = True) -> dict[str, Any] | None:
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise Malformed(f"'{where}' must be an object")
    return value


@overload
def _string(value: Any, where: str, *, required: Literal[True] = True) -> str: ...
@overload
def _string(value: Any, where: str, *, required: bool) -> str | None: ...
def _string(value: Any, where: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise Malformed(f"'{where}' must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    return value


def storable(text: str) -> bool:
    """Whether a database can be asked about `text`. A subject, resource or owner named with
    what it cannot hold is simply unknown (AuthZEN: false, or no results), never a 500."""
    return _UNSTORABLE.search(text) is None


def _properties(entity: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    return _object(entity.get("properties"), f"{where}.properties", required=False) or {}


def subject_of(value: Any, *, id_required: bool = True) -> Subject:
    entity = _object(value, "subject")
    # A search ignores the id, but one sent must still be well formed.
    subject_id = _string(entity.get("id"), "subject.id", required=id_required)
    return Subject(
        _string(entity.get("type"), "subject.type"),
        subject_id if id_required else None,
        _properties(entity, "subject"),
    )


def action_of(value: Any) -> Action:
    entity = _object(value, "action")
    return Action(_string(entity.get("name"), "action.name"), _properties(entity, "action"))


def resource_of(value: Any, *, id_required: bool = True) -> Resource:
    entity = _object(value, "resource")
    resource_id = _string(entity.get("id"), "resource.id", required=id_required)
    return Resource(
        _string(entity.get("type"), "resource.type"),
        resource_id if id_required else None,
        _properties(entity, "resource"),
    )


def context_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request's `context`: an object, or none (absent or null)."""
    return _object(body.get("context"), "context", required=False) or {}


def evaluation_of(body: Mapping[str, Any]) -> Evaluation:
    """A whole evaluation (the single API, or one batch item after its defaults)."""
    for name in ("subject", "action", "resource"):
        if name not in body:
            raise Malformed(f"'{name}' is required")
    return Evaluation(
        subject_of(body["subject"]),
        action_of(body["action"]),
        resource_of(body["resource"]),
        context_of(body),
    )


def bad_request(exc: Malformed) -> BadRequest:
    return BadRequest(f"The request is malformed: {exc}.")


@dataclass(frozen=True)
class Batch:
    items: list[Evaluation | Malformed]
    semantic: str


def batch_of(body: Mapping[str, Any]) -> Batch | None:
    """The batch, or None when there is no (or an empty) `evaluations` array: then the
    request is a single evaluation (AuthZEN, backwards compatibility)."""
    # The options are checked even when there is no batch: a request is well formed or not.
    options = body.get("options")
    semantic = "execute_all"
    if options is not None:
        if not isinstance(options, dict):
            raise BadRequest("The request is malformed: 'options' must be an object.")
        semantic = options.get("evaluations_semantic", "execute_all")
        if semantic not in SEMANTICS:
            raise BadRequest("The request is malformed: unknown 'options.evaluations_semantic'.")
    evaluations = body.get("evaluations")
    if evaluations is None or evaluations == []:
        return None
    if not isinstance(evaluations, list):
        raise BadRequest("The request is malformed: 'evaluations' must be an array.")
    if len(evaluations) > MAX_EVALUATIONS:
        raise BadRequest(f"The request is malformed: at most {MAX_EVALUATIONS} evaluations.")
    defaults = {k: body[k] for k in ("subject", "action", "resource", "context") if k in body}
    _check_defaults(defaults)
    items: list[Evaluation | Malformed] = []
    for item in evaluations:
        if not isinstance(item, dict):
            items.append(Malformed("each evaluation must be an object"))
            continue
        try:
            items.append(evaluation_of(_with_defaults(defaults, item)))
        except Malformed as exc:
            items.append(exc)
    return Batch(items, semantic)


DEFAULT_FIELDS = {"subject": ("type", "id"), "action": ("name",), "resource": ("type", "id"), "context": ()}


def _check_defaults(defaults: Mapping[str, Any]) -> None:
    """A default every item may inherit must be well formed where it says anything: an object
    (null: none) whose fields, where present, are what an item's would have to be."""
    try:
        for key, value in defaults.items():
            if value is None:
                continue
            entity = _object(value, key)
            for name in DEFAULT_FIELDS[key]:
                if name in entity:
                    _string(entity[name], f"{key}.{name}")
            if key != "context":
                _properties(entity, key)
    except Malformed as exc:
        raise bad_request(exc) from None


def _with_defaults(defaults: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    """Each of subject, action, resource, context is inherited whole when the item omits it;
    an item's entity lacking `type` or `id` takes them from the default one (the
    certification's advisory entity-level merge)."""
    merged = dict(defaults)
    for key, value in item.items():
        default = defaults.get(key)
        if key in ("subject", "resource") and isinstance(value, dict) and isinstance(default, dict):
            value = {**{k: default[k] for k in ("type", "id") if k in default}, **value}
        merged[key] = value
    return merged


def page_of(body: Mapping[str, Any]) -> Page:
    query = _query_of(body)
    page = body.get("page")
    if page is None:
        return Page(query=query)
    if not isinstance(page, dict):
        raise BadRequest("The request is malformed: 'page' must be an object.")
    limit = page.get("limit", DEFAULT_PAGE_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise BadRequest("The request is malformed: 'page.limit' must be a non-negative integer.")
    # AuthZEN: a maximum, the page size being the PDP's; 0 (no size asked) is the default.
    limit = min(limit, MAX_PAGE_LIMIT) if limit else DEFAULT_PAGE_LIMIT
    token = page.get("token", page.get("next_token", ""))
    if not isinstance(token, str):
        raise BadRequest("The request is malformed: 'page.token' must be a string.")
    return Page(limit, token, query)


def _query_of(body: Mapping[str, Any]) -> str:
    """A digest of the search's entities and context: AuthZEN asks them to stay as they were
    while a PEP pages (the limit may change: the page size is ours)."""
    asked = [body.get(k) for k in ("subject", "action", "resource", "context")]
    canonical = json.dumps(asked, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
