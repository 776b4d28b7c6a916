"""The API document, completed from what each route declares (its policy and its models).

flask-openapi3 writes paths, parameters, bodies and declared success bodies. Everything a
client, a fuzzer or a generated SDK also needs is derived here, generically, so that a new
route is documented by declaring its policy and schemas, with no per-route work:

- the error answers it can send (RFC 9457 problem+json, one `Problem` schema whose `code` is
  an enum of our codes): 401/403 for a token policy, 404 for a tenant scope or a path id,
  400/413/415/422 for a body, 400/422 for query parameters, 429 and 503 everywhere;
- `operationId`s in camelCase from the view's name (a route may name its own);
- the permission in words in each description, beside `x-permissions`;
- security requirements (bearer token, or the OAuth 2.0 client-credentials flow with the
  permissions as scopes) and the schemes, so Swagger UI's Authorize fetches a token;
- OpenAPI links from each create operation to the operations on what it created, so a
  stateful fuzzer walks create → read → update → delete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from app.clients.oauth import SLOW_DOWN
from app.security.login_backoff import RateLimited
from policies import RouteEntry
from policies.catalog import DESCRIPTIONS, TENANT_PERMISSIONS
from policies.problems import PROBLEM_CODES
from policies.rules import RoutePolicy, TokenKind

PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"
PROBLEM_REF = "#/components/schemas/Problem"
OAUTH_ERROR_REF = "#/components/schemas/OAuthError"
OAUTH_PROBLEM_REF = "#/components/schemas/OAuthProblem"

BEARER_SCHEME = "bearerAuth"
BASIC_SCHEME = "clientBasic"
OAUTH2_SCHEME = "oauth2ClientCredentials"
TOKEN_URL = "/auth/token"

# An operation whose errors are RFC 6749 §5.2 objects rather than problems (the token endpoint;
# its 429 is both: OAuthProblem).
OAUTH_ERRORS_EXTENSION = "x-oauth-errors"
# RFC 6749 §5.2 and RFC 7662 §2.3 error codes, sent as application/json OAuthError objects.
OAUTH_ERROR_CODES = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
]

WRITE_METHODS = frozenset({"post", "put", "patch"})
# A Flask rule's path parameter, `<converter:name>` or `<name>`; group 1 is the name.
PATH_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_DEFAULT_OPERATION_ID = re.compile(r"_")  # flask-openapi3's own ids always hold one


def openapi_path(rule: str) -> str:
    """`/tenants/<uuid:tid>` → `/tenants/{tid}`."""
    return PATH_PARAMETER.sub(r"{\1}", rule)


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --- components -----------------------------------------------------------------------------


def problem_schema() -> dict[str, Any]:
    return {
        "title": "Problem",
        "description": "RFC 9457 problem details, with our stable `code` (see /docs/problems).",
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "format": "uri", "description": "Where the problem is described."},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": sorted(PROBLEM_CODES)},
            "errors": {
                "type": "array",
                "description": "Each invalid field and what is wrong with it (validation_error).",
                "items": {"$ref": "#/components/schemas/FieldError"},
            },
            "required_permissions": {
                "type": "array",
                "description": "What the caller lacked (permission_denied).",
                "items": {"type": "string"},
            },
            "decision_id": {
                "type": "string",
                "format": "uuid",
                "description": "The audit event recording the denial (403, and the 404 of a denial).",
            },
        },
    }


def field_error_schema() -> dict[str, Any]:
    return {
        "title": "FieldError",
        "type": "object",
        "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
    }


def oauth_error_schema() -> dict[str, Any]:
    return {
        "title": "OAuthError",
        "description": "RFC 6749 §5.2 error response.",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "enum": OAUTH_ERROR_CODES},
            "error_description": {"type": "string"},
        },
    }


def oauth_problem_schema() -> dict[str, Any]:
    """The token endpoint's 429 (app.clients.oauth.slow_down): exactly the members it sends."""
    problem = problem_schema()
    base = {name: problem["properties"][name] for name in ("type", "title", "status", "detail")}
    return {
        "title": "OAuthProblem",
        "description": "The token endpoint's 429: the RFC 9457 problem `rate_limited` that also "
        "carries the RFC 6749 §5.2 members, so that OAuth clients read `error` from it.",
        "type": "object",
        "required": [*problem["required"], "error", "error_description"],
        "properties": {
            **base,
            "code": {"type": "string", "enum": [RateLimited.code]},
            "error": {"type": "string", "enum": [SLOW_DOWN]},
            "error_description": {"type": "string"},
        },
    }


def security_schemes() -> dict[str, Any]:
    scopes = {str(p): DESCRIPTIONS[p] for p in sorted(TENANT_PERMISSIONS)}
    return {
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from POST /auth/login or POST /auth/token "
            "(POST /auth/refresh takes the refresh token instead).",
        },
        BASIC_SCHEME: {
            "type": "http",
            "scheme": "basic",
            "description": "An integration client's client_id and client_secret "
            "(RFC 6749 §2.3.1 client_secret_basic).",
        },
        OAUTH2_SCHEME: {
            "type": "oauth2",
            "description": "OAuth 2.0 client credentials: an integration client's id and secret "
            "exchanged for an access token whose scopes are permissions.",
            "flows": {"clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": scopes}},
        },
    }


# --- per operation --------------------------------------------------------------------------


def error_statuses(policy: RoutePolicy, operation: dict[str, Any], path: str) -> set[int]:
    """Every error status the operation can answer, from its policy and its declared input."""
    statuses = {429, 503}
    # A public route may still take a bearer token it checks itself (introspection).
    declared = operation.get("security") or []
    if not policy.is_public or any(BEARER_SCHEME in requirement for requirement in declared):
        statuses |= {401, 403}
    if policy.tenant_param is not None or "{" in path:
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        statuses |= {400, 422}
    if any(_constrained_path_parameter(p) for p in operation.get("parameters", [])):
        statuses.add(422)  # a path value its model refuses (a malformed permission name, say)
    return statuses


def _constrained_path_parameter(parameter: dict[str, Any]) -> bool:
    schema = parameter.get("schema", {})
    return (
        parameter.get("in") == "path"
        and schema.get("format") != "uuid"
        and ("pattern" in schema or "maxLength" in schema)
    )


def permission_sentence(policy: RoutePolicy) -> str:
    """The operation's policy in words, for its description."""
    if policy.is_public:
        return "**Permission:** none, public" + (f" ({policy.reason})." if policy.reason else ".")
    if not policy.permissions:
        token = "refresh" if policy.token is TokenKind.REFRESH else "access"
        return f"**Permission:** none beyond a valid {token} token."
    needed = ", ".join(f"`{p}`" for p in sorted(policy.permissions))
    sentence = f"**Permission:** {needed}"
    if policy.tenant_param:
        sentence += (
            f" in the tenant `{{{policy.tenant_param}}}` (another tenant answers 404), "
            f"or `{policy.platform_bypass}` in any tenant"
        )
    if policy.ownership:
        sentence += f"; only on what the caller owns, unless they hold `{policy.ownership.override}`"
    for name, permission in policy.field_permissions:
        sentence += f"; sending `{name}` also needs `{permission}`"
    return sentence + "."


def security_requirements(policy: RoutePolicy) -> list[dict[str, list[str]]]:
    if policy.is_public:
        return []
    if policy.token is TokenKind.REFRESH:
        return [{BEARER_SCHEME: []}]
    scopes = sorted(str(p) for p in policy.permissions if not p.is_platform)
    requirements: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
    if not any(p.is_platform for p in policy.permissions):
        requirements.append({OAUTH2_SCHEME: scopes})
    return requirements


def _error_response(status: int, oauth: bool) -> dict[str, Any]:
    response: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if oauth and status == 429:  # the token endpoint's limiter: a problem in RFC 6749 form too
        response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": OAUTH_PROBLEM_REF}}}
    elif oauth and status != 503:
        response["content"] = {JSON_MEDIA_TYPE: {"schema": {"$ref": OAUTH_ERROR_REF}}}
    else:
        response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = {
            "description": "The challenge (RFC 6750 §3, RFC 9110 §11.6.1).",
            "schema": {"type": "string"},
        }
    if status in (429, 503):
        headers["Retry-After"] = {"description": "Seconds to wait.", "schema": {"type": "string"}}
    if headers:
        response["headers"] = headers
    return response


def _normalise_declared(response: dict[str, Any], problem_refs: set[str]) -> None:
    """A declared error model (the old ProblemOut) is sent as problem+json: say so."""
    content = response.get("content") or {}
    json_body = content.get(JSON_MEDIA_TYPE)
    if json_body and json_body.get("schema", {}).get("$ref") in problem_refs:
        del content[JSON_MEDIA_TYPE]
        content[PROBLEM_MEDIA_TYPE] = {"schema": {"$ref": PROBLEM_REF}}
    if json_body and json_body.get("schema", {}).get("$ref", "").endswith("/OAuthErrorOut"):
        json_body["schema"] = {"$ref": OAUTH_ERROR_REF}


def complete_operation(
    operation: dict[str, Any], policy: RoutePolicy, path: str, function_name: str, problem_refs: set[str]
) -> None:
    if _DEFAULT_OPERATION_ID.search(operation.get("operationId", "_")):
        operation["operationId"] = camel_case(function_name)
    operation.update(policy.openapi_extensions())
    if not (policy.is_public and operation.get("security")):  # a public route may name its own
        operation["security"] = security_requirements(policy)
    sentence = permission_sentence(policy)
    operation["description"] = (
        f"{operation['description']}\n\n{sentence}" if operation.get("description") else sentence
    )
    oauth = bool(operation.pop(OAUTH_ERRORS_EXTENSION, False))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, response in list(responses.items()):
        if "ValidationErrorModel" in str(response.get("content")):
            del responses[status]  # flask-openapi3's own 422, which our binding never sends
        elif status.startswith(("4", "5")):
            if not response.get("content"):
                responses[status] = _error_response(int(status), oauth)
            else:
                _normalise_declared(response, problem_refs)
    for code in sorted(error_statuses(policy, operation, path)):
        declared = responses.get(str(code))
        generic = _error_response(code, oauth)
        if declared is None:
            responses[str(code)] = generic
            continue
        # Declared in another form as well (introspection's RFC 6749 errors): both are sent.
        for media_type, body in generic["content"].items():
            declared.setdefault("content", {}).setdefault(media_type, body)
        if "headers" in generic:
            declared.setdefault("headers", {}).update(generic["headers"])


def _created_identifier(created: dict[str, Any], schemas: dict[str, Any], param: str) -> str | None:
    """The field of a create operation's answer that names what it created, for the path
    parameter `param`: a field of that very name (a permission's `name`), else `id`."""
    ref = created.get("content", {}).get(JSON_MEDIA_TYPE, {}).get("schema", {}).get("$ref", "")
    required = set(schemas.get(ref.rsplit("/", 1)[-1], {}).get("required", []))
    for field in (param, "id"):
        if field in required:
            return field
    return None


def _link(
    target: dict[str, Any], path: str, method: str, parameters: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    name = f"{target['operationId'][:1].upper()}{target['operationId'][1:]}"
    return name, {
        "operationId": target["operationId"],
        "parameters": parameters,
        "description": f"{method.upper()} {path} on what was created.",
    }


def add_links(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Links to the operations on what an operation created, so that a stateful fuzzer (or a
    client) walks create → read → update → delete:

    - from each `POST /things` answering 201, to every operation on `/things/{param}` and
      below: the created identifier (the field named `param`, else `id`) and the request's own
      path parameters;
    - from each `PUT` answering 201 (a create at a path the caller chose), to the other
      operations on that path, with the request's path parameters.
    """
    for collection, operations in paths.items():
        create = operations.get("post")
        created = (create or {}).get("responses", {}).get("201")
        if created is None:
            continue
        prefix = collection.rstrip("/") + "/{"
        for path, targets in paths.items():
            if not path.startswith(prefix):
                continue
            param = path[len(prefix) :].split("}", 1)[0]
            known = set(re.findall(r"{([^}]+)}", collection)) | {param}
            if not set(re.findall(r"{([^}]+)}", path)) <= known:
                continue  # needs an id the create operation does not give
            identifier = _created_identifier(created, schemas, param)
            if identifier is None:
                continue  # the answer names nothing a link could pass on
            for method, target in targets.items():
                if not isinstance(target, dict) or "operationId" not in target:
                    continue
                parameters = {
                    p["name"]: f"$request.path.{p['name']}"
                    for p in target.get("parameters", [])
                    if p.get("in") == "path" and p["name"] != param
                }
                parameters[param] = f"$response.body#/{identifier}"
                name, link = _link(target, path, method, parameters)
                created.setdefault("links", {})[name] = link
    for path, operations in paths.items():
        created = (operations.get("put") or {}).get("responses", {}).get("201")
        if created is None:
            continue
        for method, target in operations.items():
            if method == "put" or not isinstance(target, dict) or "operationId" not in target:
                continue
            parameters = {
                p["name"]: f"$request.path.{p['name']}"
                for p in target.get("parameters", [])
                if p.get("in") == "path"
            }
            name, link = _link(target, path, method, parameters)
            created.setdefault("links", {})[name] = link


def complete_document(
    spec: dict[str, Any], entries: Iterable[RouteEntry], view_names: dict[str, str]
) -> dict[str, Any]:
    """Complete `spec` (flask-openapi3's document) in place from the route registry."""
    spec["servers"] = [{"url": "/", "description": "this service"}]
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem_refs = {f"#/components/schemas/{name}" for name in ("ProblemOut", "Problem")}
    schemas.pop("ProblemOut", None)
    schemas.pop("FieldErrorOut", None)
    schemas.pop("OAuthErrorOut", None)
    schemas.pop("ValidationErrorModel", None)
    schemas["Problem"] = problem_schema()
    schemas["FieldError"] = field_error_schema()
    schemas["OAuthError"] = oauth_error_schema()
    schemas["OAuthProblem"] = oauth_problem_schema()
    components["securitySchemes"] = security_schemes()

    paths: dict[str, Any] = spec.get("paths", {})
    seen_ids: dict[str, str] = {}
    for entry in entries:
        path = openapi_path(entry.rule)
        operations = paths.get(path)
        if operations is None:
            continue
        for method in entry.methods:
            operation = operations.get(method.lower())
            if operation is None:
                continue
            complete_operation(operation, entry.policy, path, view_names[entry.endpoint], problem_refs)
            other = seen_ids.setdefault(operation["operationId"], entry.endpoint)
            if other != entry.endpoint:
                # Two views of one name in different areas (the tutorial's `login`): qualify.
                blueprint = entry.endpoint.split(".", 1)[0]
                operation["operationId"] = camel_case(f"{blueprint}_{view_names[entry.endpoint]}")
    add_links(paths, schemas)
    return spec
