"""The API document: derived from each route's policy and models, complete enough for
generated clients and fuzzers (every answer documented as sent)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel

from app import create_app
from app.clients import service as clients_service
from app.openapi_document import openapi_path
from app.resources import service as resources_service
from app.schemas import StrictBody, TenantPath, _refuse_null
from policies import Permission, route_policies, tenant_scoped
from policies.problems import PROBLEM_CODES
from tests.conftest import real_limits
from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory, TenantFactory, UserFactory

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture
def document(client):
    return client.get("/openapi.json").get_json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_document_is_openapi_3_1_with_a_server(document):
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "/", "description": "this service"}]


def test_every_api_operation_carries_its_permissions(app, document):
    paths = document["paths"]

    for entry in route_policies(app):
        path = openapi_path(entry.rule)
        if path not in paths:
            assert entry.endpoint.startswith("docs."), f"{entry.rule} is missing from the document"
            continue
        for method in entry.methods:
            operation = paths[path][method.lower()]
            assert operation["x-permissions"] == sorted(entry.policy.permissions)
            assert operation["x-policy"] == entry.policy.describe()
            assert "**Permission:**" in operation["description"]
            for permission in entry.policy.permissions:
                assert f"`{permission}`" in operation["description"]


def test_security_requirements_follow_the_policy(document):
    paths = document["paths"]

    assert paths["/tenants/{tid}/users"]["get"]["security"] == [
        {"bearerAuth": []},
        {"oauth2ClientCredentials": ["users:read"]},
    ]
    # platform permissions are never a client's scope: bearer only
    assert paths["/tenants"]["post"]["security"] == [{"bearerAuth": []}]
    assert paths["/healthz"]["get"]["security"] == []
    assert paths["/auth/token"]["post"]["security"] == [{"clientBasic": []}, {}]
    assert {"bearerAuth": []} in paths["/auth/introspect"]["post"]["security"]


def test_security_schemes_let_swagger_ui_fetch_a_client_credentials_token(document):
    schemes = document["components"]["securitySchemes"]

    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["clientBasic"]["scheme"] == "basic"
    flow = schemes["oauth2ClientCredentials"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/auth/token"
    assert "projects:read" in flow["scopes"]
    assert not any(scope.startswith("platform:") for scope in flow["scopes"])


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        # tenant policy: 401, 403, 404; a body: 400, 413, 415, 422; everywhere 429, 503
        ("/tenants/{tid}/users", "post", {201, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503}),
        # a query: 400 (a cursor), 422
        ("/tenants/{tid}/users", "get", {200, 400, 401, 403, 404, 422, 429, 503}),
        ("/tenants/{tid}/projects/{pid}", "delete", {204, 401, 403, 404, 429, 503}),
        ("/auth/me", "get", {200, 401, 403, 429, 503}),
        ("/auth/login", "post", {200, 400, 401, 403, 413, 415, 422, 429, 503}),
        ("/healthz", "get", {200, 429, 503}),
    ],
)
def test_every_status_an_operation_can_answer_is_documented(document, path, method, statuses):
    responses = document["paths"][path][method]["responses"]

    assert {int(status) for status in responses} == statuses


def test_every_error_is_a_problem_except_the_token_endpoints_own(document):
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")) or path in ("/auth/token", "/auth/introspect", "/readyz"):
                continue
            assert response["content"] == PROBLEM, f"{method} {path} {status}"
    token = document["paths"]["/auth/token"]["post"]["responses"]
    oauth = {"schema": {"$ref": "#/components/schemas/OAuthError"}}
    assert token["400"]["content"] == {"application/json": oauth}
    assert token["401"]["content"] == {"application/json": oauth}
    # over a rate limit, the contract's problem, carrying RFC 6749's members as well
    assert token["429"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/OAuthProblem"}}
    }
    introspect = document["paths"]["/auth/introspect"]["post"]["responses"]
    assert introspect["401"]["content"] == {"application/json": oauth, **PROBLEM}
    assert introspect["429"]["content"] == PROBLEM


def test_401_and_429_document_their_headers(document):
    responses = document["paths"]["/auth/me"]["get"]["responses"]

    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "Retry-After" in responses["429"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]


def test_problem_schema_names_every_code(document):
    problem = document["components"]["schemas"]["Problem"]

    assert problem["properties"]["code"]["enum"] == sorted(PROBLEM_CODES)
    assert {"decision_id", "required_permissions", "errors"} <= set(problem["properties"])
    assert "ProblemOut" not in document["components"]["schemas"]
    assert "ValidationErrorModel" not in document["components"]["schemas"]


def test_problem_types_resolve_to_the_served_problems_page(client):
    problem = client.get("/tenants").get_json()
    url = urlsplit(problem["type"])

    page = client.get(url.path)

    assert (url.scheme, url.netloc) == ("https", "authz.test")  # under the issuer
    assert page.status_code == 200
    assert f'id="{url.fragment}"' in page.get_data(as_text=True)
    for code in PROBLEM_CODES:
        assert f'id="{code}"' in page.get_data(as_text=True)


def test_operation_ids_are_unique_camel_case_and_named_for_what_they_do(document):
    ids = [operation["operationId"] for _path, _method, operation in operations(document)]

    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", op_id) for op_id in ids)
    assert {
        "listUsers",
        "replaceUserRoles",
        "getMe",
        "issueToken",
        "introspectToken",
        "createProject",
        "getResource",
    } <= set(ids)
    assert {"login", "tutorialLogin"} <= set(ids)  # one view name in two areas: qualified


def test_every_public_operation_documents_its_success_body(document):
    for path in ("/.well-known/jwks.json", "/.well-known/oauth-authorization-server", "/healthz", "/readyz"):
        ok = document["paths"][path]["get"]["responses"]["200"]
        assert "application/json" in ok["content"], path
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]
    assert "text/plain" in metrics["content"]


def test_form_bodies_are_declared_so_a_generated_client_can_send_them(document):
    token = document["paths"]["/auth/token"]["post"]["requestBody"]
    introspect = document["paths"]["/auth/introspect"]["post"]["requestBody"]

    # two media types: the body is optional (openapi-python-client #1451)
    assert set(token["content"]) == {"application/x-www-form-urlencoded", "application/json"}
    assert token["required"] is False
    assert set(introspect["content"]) == {"application/x-www-form-urlencoded"}
    assert introspect["required"] is True
    assert introspect["content"]["application/x-www-form-urlencoded"]["schema"]["required"] == ["token"]


def test_fields_that_may_be_null_say_so_and_omittable_ones_do_not(document):
    schemas = document["components"]["schemas"]

    email = schemas["MeUserOut"]["properties"]["email"]
    assert {"type": "null"} in email["anyOf"]
    assert "email" in schemas["MeUserOut"]["required"]
    # a partial update may leave a field out but never sends null
    assert schemas["TenantUpdate"]["properties"]["name"]["type"] == "string"
    assert schemas["TenantUpdate"]["minProperties"] == 1


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_no_body_field_that_refuses_null_is_documented_as_nullable(document):
    """A field whose model refuses null (app.schemas.never_null) offers no null in the document,
    else a fuzzer or a generated client sends the null the server refuses."""
    schemas = document["components"]["schemas"]
    checked = 0
    for model in _subclasses(StrictBody):
        if model.__name__ not in schemas:
            continue  # a model of a test's own route
        refusing = [
            field
            for validator in model.__pydantic_decorators__.field_validators.values()
            if validator.func.__func__ is _refuse_null
            for field in validator.info.fields
        ]
        for field in refusing:
            documented = schemas[model.__name__]["properties"][field]
            assert {"type": "null"} not in documented.get("anyOf", []), f"{model.__name__}.{field}"
            assert documented.get("type") != "null", f"{model.__name__}.{field}"
            assert "default" not in documented, f"{model.__name__}.{field}"
            checked += 1

    assert checked >= 10


def test_me_sends_a_users_null_fields_as_null(client, auth_headers):
    user = UserFactory(tenant=TenantFactory(), email=None, roles=["member"])

    body = client.get("/auth/me", headers=auth_headers(user)).get_json()

    assert body["user"]["email"] is None
    assert "client" not in body


def test_login_tenant_is_required_unless_a_default_tenant_is_configured(make_settings, document):
    assert "tenant" in document["components"]["schemas"]["LoginBody"]["required"]

    with_default = create_app(make_settings(default_tenant="acme"), TESTING=True).api_doc

    assert "tenant" not in with_default["components"]["schemas"]["LoginBody"].get("required", [])


def test_create_operations_link_to_what_they_created(document):
    links = document["paths"]["/tenants/{tid}/users"]["post"]["responses"]["201"]["links"]

    assert {link["operationId"] for link in links.values()} == {
        "getUser",
        "updateUser",
        "deleteUser",
        "replaceUserRoles",
    }
    assert links["GetUser"]["parameters"] == {"tid": "$request.path.tid", "uid": "$response.body#/id"}
    tenant_links = document["paths"]["/tenants"]["post"]["responses"]["201"]["links"]
    assert tenant_links["GetTenant"]["parameters"] == {"tid": "$response.body#/id"}


def _schema_of(document, response):
    ref = response["content"]["application/json"]["schema"]["$ref"]
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_every_links_response_pointer_names_a_field_the_response_has(document):
    """A link reading `$response.body#/id` from a body without `id` gives a stateful fuzzer
    (and a client following links) nothing to send: every pointer names a required field."""
    checked = 0
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            for name, link in response.get("links", {}).items():
                schema = _schema_of(document, response)
                for value in link["parameters"].values():
                    if value.startswith("$response.body#/"):
                        field = value.removeprefix("$response.body#/")
                        assert field in schema["required"], f"{method} {path} {status} {name}: {value}"
                        checked += 1

    assert checked > 0


def test_a_created_permission_links_to_its_operations_by_name(document):
    links = document["paths"]["/permissions"]["post"]["responses"]["201"]["links"]

    assert {link["operationId"] for link in links.values()} == {"updatePermission", "deletePermission"}
    assert links["UpdatePermission"]["parameters"] == {"name": "$response.body#/name"}


def test_a_put_that_creates_links_to_the_other_operations_on_what_it_created(document):
    created = document["paths"]["/tenants/{tid}/resources/{type}/{resource_id}"]["put"]["responses"]["201"]
    same_path = {p: f"$request.path.{p}" for p in ("tid", "type", "resource_id")}

    assert {name: link["parameters"] for name, link in created["links"].items()} == {
        "GetResource": same_path,
        "DeleteResource": same_path,
    }


class ReportPath(TenantPath):
    rid: int


class ReportBody(StrictBody):
    title: str


class ReportOut(BaseModel):
    title: str


def test_a_new_route_is_documented_from_its_policy_and_models_alone(make_settings):
    reports = APIBlueprint("reports", __name__)

    @reports.put("/tenants/<uuid:tid>/reports/<int:rid>", responses={200: ReportOut})
    @tenant_scoped(Permission.AUDIT_READ)
    def replace_report(path: ReportPath, body: ReportBody) -> dict[str, str]:
        return {"title": body.title}

    document = create_app(make_settings(), blueprints=[reports], TESTING=True).api_doc
    operation = document["paths"]["/tenants/{tid}/reports/{rid}"]["put"]

    assert operation["operationId"] == "replaceReport"
    assert {int(s) for s in operation["responses"]} == {200, 400, 401, 403, 404, 413, 415, 422, 429, 503}
    assert operation["responses"]["403"]["content"] == PROBLEM
    assert operation["security"] == [{"bearerAuth": []}, {"oauth2ClientCredentials": ["audit:read"]}]
    assert "`audit:read`" in operation["description"]


def test_docs_page_uses_no_cdn(client):
    page = client.get("/docs")
    script = client.get("/docs/assets/js/swagger-ui-bundle.js")

    assert page.status_code == 200
    assert "http://" not in page.get_data(as_text=True)
    assert "https://" not in page.get_data(as_text=True)
    assert script.status_code == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_docs_assets_cannot_escape_their_folder(client):
    assert client.get("/docs/assets/../../__init__.py").status_code == 404


@pytest.mark.parametrize("client_authentication", ["basic", "request-body"])
def test_swagger_uis_authorize_request_gets_a_client_credentials_token(
    client, document, client_authentication
):
    """What Swagger UI sends for the `oauth2ClientCredentials` scheme, to its `tokenUrl`."""
    integration = ClientFactory(tenant=TenantFactory(), scopes=["projects:read", "users:read"])
    flow = document["components"]["securitySchemes"]["oauth2ClientCredentials"]["flows"]["clientCredentials"]
    form = {"grant_type": "client_credentials", "scope": "projects:read"}
    headers = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json, text/plain, */*"}
    auth = None
    if client_authentication == "basic":
        auth = (integration.client_id, DEFAULT_CLIENT_SECRET)
    else:
        form.update(client_id=integration.client_id, client_secret=DEFAULT_CLIENT_SECRET)

    response = client.post(flow["tokenUrl"], data=form, headers=headers, auth=auth)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scope"] == "projects:read"


def documented_body(document, path: str, status: str, answer) -> dict:
    """The schema `document` gives `answer`'s status and media type on `path` (a POST)."""
    content = document["paths"][path]["post"]["responses"][status]["content"]
    assert set(content) == {answer.mimetype}, f"{path} {status} is sent as {answer.mimetype}"
    return document["components"]["schemas"][content[answer.mimetype]["schema"]["$ref"].rsplit("/", 1)[1]]


def assert_matches(body: dict, schema: dict) -> None:
    """`body` holds every member `schema` requires, only members it names, each of its enums."""
    assert set(schema["required"]) <= set(body) <= set(schema["properties"]), sorted(body)
    for name, value in body.items():
        if "enum" in schema["properties"][name]:
            assert value in schema["properties"][name]["enum"], (name, value)


def test_the_token_endpoints_429_is_the_problem_its_document_describes(make_client, make_settings, db):
    """The token endpoint's own limiter answers the problem `rate_limited` with RFC 6749's
    `error: slow_down`: exactly what its document's schema (OAuthProblem) requires and names."""
    api = make_client(make_settings(**real_limits()))
    answers = [
        api.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(f"cli_unknown_{n}", "x"))
        for n in range(61)
    ]
    document = api.get("/openapi.json").get_json()
    schema = documented_body(document, "/auth/token", "429", answers[-1])

    assert answers[-1].status_code == 429
    assert_matches(answers[-1].get_json(), schema)
    assert schema["properties"]["code"]["enum"] == ["rate_limited"]
    assert schema["properties"]["error"]["enum"] == ["slow_down"]
    assert {"code", "error", "error_description", "detail"} <= set(schema["required"])
    # slow_down is never sent as an application/json OAuthError any more
    assert "slow_down" not in document["components"]["schemas"]["OAuthError"]["properties"]["error"]["enum"]


def test_introspections_429_is_the_problem_its_document_describes(make_client, make_settings, acme):
    api = make_client(make_settings(**{**real_limits(), "introspect_limit_per_caller": "1 per minute"}))
    reader = ClientFactory(tenant=acme, scopes=["tokens:introspect"])
    answers = [
        api.post("/auth/introspect", data={"token": "x"}, auth=(reader.client_id, DEFAULT_CLIENT_SECRET))
        for _ in range(2)
    ]
    document = api.get("/openapi.json").get_json()

    assert [a.status_code for a in answers] == [200, 429]
    assert_matches(answers[-1].get_json(), documented_body(document, "/auth/introspect", "429", answers[-1]))
    assert answers[-1].get_json()["code"] == "rate_limited"


@pytest.mark.parametrize(
    ("collide", "path", "method", "send"),
    [
        pytest.param(
            # two clients drawing the same client_id (the unique index answers)
            lambda monkeypatch: monkeypatch.setattr(clients_service, "new_client_id", lambda: "cli_same"),
            "/tenants/{tid}/clients",
            "post",
            lambda api, tid, headers: api.post(
                f"/tenants/{tid}/clients", json={"name": "sync", "scopes": []}, headers=headers
            ),
            id="createClient",
        ),
    ],
)
def test_a_conflict_an_operation_can_answer_is_documented(
    client, document, auth_headers, monkeypatch, collide, path, method, send
):
    tenant = TenantFactory()
    headers = auth_headers(UserFactory(tenant=tenant, roles=["admin"]))
    collide(monkeypatch)

    first = send(client, tenant.id, headers)
    second = send(client, tenant.id, headers)

    assert first.status_code in (200, 201), first.get_json()
    assert second.status_code == 409, second.get_json()
    assert second.mimetype == "application/problem+json"
    assert "409" in document["paths"][path][method]["responses"]


def test_the_conflict_of_a_resource_put_is_documented(client, document, auth_headers, monkeypatch):
    """Two PUTs racing to register one resource no longer conflict (the loser replaces what
    the winner wrote); an owner deleted between its check and the write still does."""
    tenant = TenantFactory()
    headers = auth_headers(UserFactory(tenant=tenant, roles=["admin"]))
    monkeypatch.setattr(resources_service, "get_in_tenant", lambda *_args, **_kwargs: None)

    response = client.put(
        f"/tenants/{tenant.id}/resources/invoices/inv-1",
        json={"owner_id": "00000000-0000-4000-8000-000000000000"},
        headers=headers,
    )

    assert response.status_code == 409, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert "409" in document["paths"]["/tenants/{tid}/resources/{type}/{resource_id}"]["put"]["responses"]
