"""The AuthZEN 1.0 decision API (`/access/v1/*`) and its metadata.

Errors follow AuthZEN, not the rest of the contract: a malformed request is a 400, unknown
fields are ignored; the routes parse their own bodies (app.decisions.requests), after the
policy allowed the caller.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_openapi3 import APIBlueprint, Tag
from flask_openapi3.types import ResponseDict
from pydantic import BaseModel, ConfigDict, RootModel

from app.database import db_session
from app.decisions import engine, search
from app.decisions.requests import (
    MAX_EVALUATIONS,
    MAX_ID_LENGTH,
    MAX_PAGE_LIMIT,
    Malformed,
    action_of,
    bad_request,
    batch_of,
    context_of,
    evaluation_of,
    json_body,
    page_of,
    resource_of,
    subject_of,
)
from app.schemas import PROBLEM_RESPONSES, ProblemOut
from app.security import settings
from policies import Permission, current_principal, public, require

bp = APIBlueprint("decisions", __name__, url_prefix="/access/v1", abp_tags=[Tag(name="decisions")])
metadata_bp = APIBlueprint("authzen", __name__, url_prefix="/.well-known", abp_tags=[Tag(name="discovery")])

RESPONSES: ResponseDict = {**PROBLEM_RESPONSES, 400: ProblemOut}


class DecisionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    decision: bool


class EvaluationsOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    evaluations: list[DecisionOut]


class EvaluationsAnswer(RootModel[EvaluationsOut | DecisionOut]):
    """A batch's decisions, or, for a request without `evaluations`, one decision (AuthZEN)."""


class SearchOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    results: list[dict[str, Any]]
    page: dict[str, Any]


@bp.url_value_preprocessor
def _larger_bodies(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """A batch of 1,000 evaluations is larger than other routes' bodies (Flask reads this per request).

    Set before every `before_request` hook (Flask runs URL value preprocessors first): the
    app's own hook reads a chunked body up to the limit (app.http.bound_streamed_body), and
    a blueprint's `before_request` would come after it.
    """
    request.max_content_length = settings().decision_max_body_bytes


def _entity(required: list[str], *names: str, ignored: str | None = None) -> dict[str, Any]:
    # What the parser accepts (app.decisions.requests): a non-empty string of at most 256
    # characters; anything else is a 400, as AuthZEN asks. An `ignored` field (a search's
    # subject or resource id) may also be null.
    text = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}
    properties: dict[str, Any] = dict.fromkeys(names, text)
    if ignored is not None:
        properties[ignored] = {"anyOf": [text, {"type": "null"}]}
    properties["properties"] = {"anyOf": [{"type": "object"}, {"type": "null"}]}  # null: none
    return {"type": "object", "required": required, "properties": properties}


SUBJECT = _entity(["type", "id"], "type", "id")
ACTION = _entity(["name"], "name")
RESOURCE = _entity(["type", "id"], "type", "id")
PAGE = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "limit": {
                    "type": "integer",
                    "minimum": 0,
                    "description": f"at most this many results (capped at {MAX_PAGE_LIMIT}); 0: the default",
                },
                "token": {
                    "type": "string",
                    "description": "the `next_token` of the previous page, as it came, for the same "
                    "subject, action, resource and context (another search: 400)",
                },
            },
        },
        {"type": "null"},  # the first page, by default limits
    ]
}
CONTEXT = {"anyOf": [{"type": "object"}, {"type": "null"}]}  # null: none


def _documented(schema: dict[str, Any]) -> dict[str, Any]:
    """The request body in the OpenAPI document (the routes parse it themselves, AuthZEN's way)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _request(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": {**properties, "context": CONTEXT}}


EVALUATION_DOC = _request(
    ["subject", "action", "resource"], subject=SUBJECT, action=ACTION, resource=RESOURCE
)
OPTIONS = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "evaluations_semantic": {
                    "enum": ["execute_all", "deny_on_first_deny", "permit_on_first_permit"]
                }
            },
        },
        {"type": "null"},
    ]
}
# A batch, or (no `evaluations`, an empty or a null one) one evaluation of the top-level
# fields (AuthZEN). In a batch each item inherits whichever of subject, action, resource and
# context it omits, and an entity's type and id it lacks (null: no default); an item that is
# not a valid evaluation is decided false with reason_code invalid_request.
EVALUATIONS_DOC = {
    "type": "object",
    "properties": {
        "subject": {"anyOf": [_entity([], "type", "id"), {"type": "null"}]},
        "action": {"anyOf": [_entity([], "name"), {"type": "null"}]},
        "resource": {"anyOf": [_entity([], "type", "id"), {"type": "null"}]},
        "context": CONTEXT,
        "evaluations": {
            "anyOf": [{"type": "array", "maxItems": MAX_EVALUATIONS, "items": {}}, {"type": "null"}]
        },
        "options": OPTIONS,
    },
    "anyOf": [
        {
            "required": ["evaluations"],
            "properties": {"evaluations": {"type": "array", "minItems": 1, "items": {}}},
        },
        {
            "required": ["subject", "action", "resource"],
            "properties": {"subject": SUBJECT, "action": ACTION, "resource": RESOURCE},
        },
    ],
}
SEARCH_SUBJECT_DOC = _request(
    ["subject", "action", "resource"],
    subject=_entity(["type"], "type", "id", ignored="id"),
    action=ACTION,
    resource=RESOURCE,
    page=PAGE,
)
SEARCH_RESOURCE_DOC = _request(
    ["subject", "action", "resource"],
    subject=SUBJECT,
    action=ACTION,
    resource=_entity(["type"], "type", "id", ignored="id"),
    page=PAGE,
)
SEARCH_ACTION_DOC = _request(["subject", "resource"], subject=SUBJECT, resource=RESOURCE, page=PAGE)


class AuthzenConfigurationOut(BaseModel):
    policy_decision_point: str
    access_evaluation_endpoint: str
    access_evaluations_endpoint: str
    search_subject_endpoint: str
    search_resource_endpoint: str
    search_action_endpoint: str


def scope() -> engine.Scope:
    principal = current_principal()
    return engine.Scope(principal.tenant_id, principal.holds(Permission.PLATFORM_READ))


def _single(body: dict[str, Any]) -> dict[str, Any]:
    try:
        evaluation = evaluation_of(body)
    except Malformed as exc:
        raise bad_request(exc) from None
    [decision] = engine.evaluate_all(db_session(), scope(), [evaluation], "execute_all")
    return decision.as_json()


@bp.post(
    "/evaluation",
    responses={200: DecisionOut, **RESPONSES},
    operation_id="evaluateAccess",
    openapi_extensions=_documented(EVALUATION_DOC),
)
@require(Permission.DECISIONS_EVALUATE, strict_input=False)
def evaluation() -> dict[str, Any]:
    """AuthZEN access evaluation: may `subject` do `action` on `resource` now?

    The permission asked is `<resource.type>:<action.name>`; ownership applies when that
    permission has an owner override the subject lacks."""
    return _single(json_body())


@bp.post(
    "/evaluations",
    operation_id="evaluateAccessBatch",
    responses={200: EvaluationsAnswer, **RESPONSES},
    openapi_extensions=_documented(EVALUATIONS_DOC),
)
@require(Permission.DECISIONS_EVALUATE, strict_input=False)
def evaluations() -> dict[str, Any]:
    """AuthZEN access evaluations: up to 1,000 at once, top-level defaults, the three
    `options.evaluations_semantic`; a constant number of SQL queries whatever the count."""
    body = json_body()
    batch = batch_of(body)
    if batch is None:
        return _single(body)
    decisions = engine.evaluate_all(db_session(), scope(), batch.items, batch.semantic)
    return {"evaluations": [d.as_json() for d in decisions]}


def _search_page(results: list[dict[str, Any]], next_token: str) -> dict[str, Any]:
    return {"results": results, "page": {"next_token": next_token, "count": len(results)}}


@bp.post(
    "/search/subject",
    responses={200: SearchOut, **RESPONSES},
    openapi_extensions=_documented(SEARCH_SUBJECT_DOC),
)
@require(Permission.DECISIONS_EVALUATE, strict_input=False)
def search_subject() -> dict[str, Any]:
    """AuthZEN subject search: the tenant's users (or clients) permitted now; `subject.id` is ignored."""
    body = json_body()
    try:
        subject = subject_of(body.get("subject"), id_required=False)
        action = action_of(body.get("action"))
        resource = resource_of(body.get("resource"))
        context_of(body)  # searches take no context, but one sent must be well formed
    except Malformed as exc:
        raise bad_request(exc) from None
    page = page_of(body)
    return _search_page(*search.search_subjects(db_session(), scope(), subject, action, resource, page))


@bp.post(
    "/search/resource",
    responses={200: SearchOut, **RESPONSES},
    openapi_extensions=_documented(SEARCH_RESOURCE_DOC),
)
@require(Permission.DECISIONS_EVALUATE, strict_input=False)
def search_resource() -> dict[str, Any]:
    """AuthZEN resource search: registered resources of the type (and projects) the subject may
    act on; `resource.id` is ignored."""
    body = json_body()
    try:
        subject = subject_of(body.get("subject"))
        action = action_of(body.get("action"))
        resource = resource_of(body.get("resource"), id_required=False)
        context_of(body)  # searches take no context, but one sent must be well formed
    except Malformed as exc:
        raise bad_request(exc) from None
    page = page_of(body)
    return _search_page(*search.search_resources(db_session(), scope(), subject, action, resource, page))


@bp.post(
    "/search/action",
    responses={200: SearchOut, **RESPONSES},
    openapi_extensions=_documented(SEARCH_ACTION_DOC),
)
@require(Permission.DECISIONS_EVALUATE, strict_input=False)
def search_action() -> dict[str, Any]:
    """AuthZEN action search: the action names the subject may perform on the resource now."""
    body = json_body()
    try:
        subject = subject_of(body.get("subject"))
        resource = resource_of(body.get("resource"))
        context_of(body)  # searches take no context, but one sent must be well formed
    except Malformed as exc:
        raise bad_request(exc) from None
    page = page_of(body)
    return _search_page(*search.search_actions(db_session(), scope(), subject, resource, page))


@metadata_bp.get(
    "/authzen-configuration", responses={200: AuthzenConfigurationOut}, operation_id="getAuthzenConfiguration"
)
@public("AuthZEN policy decision point metadata")
def authzen_configuration() -> dict[str, Any]:
    """Where the AuthZEN endpoints are (AuthZEN 1.0, PDP metadata)."""
    base = settings().issuer.rstrip("/")
    return {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
        "search_subject_endpoint": f"{base}/access/v1/search/subject",
        "search_resource_endpoint": f"{base}/access/v1/search/resource",
        "search_action_endpoint": f"{base}/access/v1/search/action",
    }
