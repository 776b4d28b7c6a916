"""Every error is an RFC 9457 problem: `application/problem+json` with `type`, `title`,
`status`, `detail` and a stable `code`, and never a trace, a secret or an echoed value."""

import pytest
from flask_openapi3 import APIBlueprint
from sqlalchemy import text

from app import create_app
from app.database import db_session
from policies import public
from tests.conftest import PASSWORD
from tests.factories import ProjectFactory, TenantFactory, UserFactory

PROBLEM = "application/problem+json"
DEFAULT_LIMIT = 64 * 1024


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    for member in ("type", "title", "detail", "code"):
        assert isinstance(problem.get(member), str), member
        assert problem[member], member
    assert problem["status"] == status
    assert problem["code"] == code
    return problem


def json_body_of_size(size: int) -> bytes:
    """A JSON login body of exactly `size` bytes (its username is too long to be valid)."""
    head, tail = b'{"username": "', b'", "password": "p"}'
    return head + b"u" * (size - len(head) - len(tail)) + tail


@pytest.fixture
def member(acme):
    return UserFactory(tenant=acme, roles=["member"])


# --- routing ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/auth/me/extra", "/tenants/not-a-uuid/projects"])
def test_an_unknown_route_is_a_404_problem(client, path):
    assert_problem(client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/auth/login", "POST"),
        ("delete", "/auth/me", "GET"),
        ("post", "/healthz", "GET"),
        ("put", "/auth/logout", "POST"),
    ],
)
def test_a_wrong_method_is_a_405_problem_naming_the_allowed_ones(client, method, path, allowed):
    response = client.open(path, method=method)
    assert_problem(response, 405, "method_not_allowed")
    assert allowed in {m.strip() for m in response.headers["Allow"].split(",")}


# --- request bodies ---------------------------------------------------------------------


def test_a_body_over_the_default_limit_is_a_413_problem(client):
    response = client.post(
        "/auth/login", data=json_body_of_size(DEFAULT_LIMIT + 1), content_type="application/json"
    )
    assert_problem(response, 413, "payload_too_large")


def test_a_body_exactly_at_the_default_limit_is_read(client):
    response = client.post(
        "/auth/login", data=json_body_of_size(DEFAULT_LIMIT), content_type="application/json"
    )
    assert_problem(response, 422, "validation_error")


def test_a_body_over_a_configured_limit_is_a_413_problem(make_client, make_settings):
    api = make_client(make_settings(max_body_bytes=2048))
    response = api.post("/auth/login", data=json_body_of_size(2049), content_type="application/json")
    assert_problem(response, 413, "payload_too_large")


def test_a_body_at_a_configured_limit_is_read(make_client, make_settings):
    api = make_client(make_settings(max_body_bytes=2048))
    response = api.post("/auth/login", data=json_body_of_size(2048), content_type="application/json")
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        None,
    ],
    ids=["text", "form", "multipart", "xml", "no-content-type"],
)
def test_a_body_that_is_not_json_is_a_415_problem(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/auth/login", data=b'{"username": "a", "password": "b"}', headers=headers)
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"username": ', id="truncated"),
        pytest.param(b"{'username': 'a'}", id="single-quotes"),
        pytest.param(b'{"username": "a",}', id="trailing-comma"),
        pytest.param(b'{"username": "\xff"}', id="invalid-utf8"),
    ],
)
def test_malformed_json_is_a_400_problem(client, body):
    response = client.post("/auth/login", data=body, content_type="application/json")
    assert_problem(response, 400, "bad_request")


def test_deeply_nested_json_is_a_400_problem_not_a_500(client):
    # 4 KB of brackets: well under the size limit, but deeper than Python's json recursion limit.
    body = b"[" * 2000 + b"]" * 2000
    response = client.post("/auth/login", data=body, content_type="application/json")
    assert response.status_code == 400, f"{response.status_code}: deep JSON is the client's fault, not a 500"
    assert_problem(response, 400, "bad_request")


# --- validation ---------------------------------------------------------------------------


def fields_of(problem: dict) -> set[str]:
    for error in problem["errors"]:
        assert set(error) == {"field", "message"}
        assert isinstance(error["message"], str)
        assert error["message"]
    return {error["field"] for error in problem["errors"]}


def test_a_validation_error_lists_each_bad_and_each_unknown_field(client):
    body = {"tenant": "t" * 64, "username": 5, "password": "", "is_admin": True, "roles": ["admin"]}
    problem = assert_problem(client.post("/auth/login", json=body), 422, "validation_error")
    assert fields_of(problem) == {"tenant", "username", "password", "is_admin", "roles"}


def test_a_missing_field_is_named_in_the_validation_error(client):
    problem = assert_problem(client.post("/auth/login", json={"tenant": "acme"}), 422, "validation_error")
    assert fields_of(problem) == {"username", "password"}


def test_a_json_body_that_is_not_an_object_is_a_422_problem(client):
    problem = assert_problem(
        client.post("/auth/login", json=["username", "password"]), 422, "validation_error"
    )
    assert problem["errors"]


def test_a_validation_error_on_a_tenant_route_names_each_bad_field(client, acme, member, auth_headers):
    body = {"name": "", "owner_id": "00000000-0000-0000-0000-000000000000"}
    response = client.post(f"/tenants/{acme.id}/projects", json=body, headers=auth_headers(member))
    assert fields_of(assert_problem(response, 422, "validation_error")) == {"name", "owner_id"}


def test_a_bad_query_parameter_is_a_422_problem_naming_it(client, acme, member, auth_headers):
    response = client.get(f"/tenants/{acme.id}/projects?limit=0&sort=name", headers=auth_headers(member))
    assert {"limit", "sort"} <= fields_of(assert_problem(response, 422, "validation_error"))


def test_a_login_validation_error_never_echoes_a_submitted_value(client, acme):
    password = "hunter2-correct-horse-" * 50  # 1100 characters, over the 1024 cap
    body = {
        "tenant": "acme",
        "username": "alice-submitted-name",
        "password": password,
        "remember_me": "extra-submitted-value",
    }
    response = client.post("/auth/login", json=body)

    problem = assert_problem(response, 422, "validation_error")
    assert fields_of(problem) == {"password", "remember_me"}
    text_of_response = response.get_data(as_text=True)
    for submitted in ("hunter2", "correct-horse", "alice-submitted-name", "extra-submitted-value"):
        assert submitted not in text_of_response


# --- authentication and authorization problems --------------------------------------------


def test_wrong_credentials_are_a_401_problem_with_a_bearer_challenge(client, member):
    body = {"tenant": "acme", "username": member.username, "password": PASSWORD + "-wrong"}
    response = client.post("/auth/login", json=body)
    assert_problem(response, 401, "invalid_credentials")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_missing_token_is_a_401_problem_with_a_bearer_challenge(client, db):
    response = client.get("/auth/me")
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_denied_permission_is_a_403_problem_naming_what_is_missing(client, acme, member, auth_headers):
    project = ProjectFactory(tenant=acme)  # owned by someone else
    response = client.patch(
        f"/tenants/{acme.id}/projects/{project.id}", json={"name": "Mine now"}, headers=auth_headers(member)
    )
    problem = assert_problem(response, 403, "permission_denied")
    assert problem["required_permissions"] == ["projects:manage"]


def test_another_tenants_object_is_a_404_problem(client, member, auth_headers):
    other = ProjectFactory(tenant=TenantFactory())
    response = client.get(f"/tenants/{other.tenant_id}/projects/{other.id}", headers=auth_headers(member))
    assert_problem(response, 404, "not_found")


def test_a_missing_object_of_ones_own_tenant_is_a_404_problem(client, acme, member, auth_headers):
    response = client.get(
        f"/tenants/{acme.id}/projects/00000000-0000-0000-0000-000000000000", headers=auth_headers(member)
    )
    assert_problem(response, 404, "not_found")


# --- unexpected errors --------------------------------------------------------------------


def failing_blueprint() -> APIBlueprint:
    bp = APIBlueprint("failing", __name__, url_prefix="/failing")

    @bp.get("/raise")
    @public("test")
    def raise_runtime_error():
        raise RuntimeError("secret-detail")

    @bp.get("/sql")
    @public("test")
    def run_broken_sql():
        db_session().execute(text("SELECT secret_column FROM no_such_table"))

    return bp


@pytest.fixture
def failing_api(make_settings, bind_app, db):
    """The real app, not in testing mode, with the deployer's routes that fail."""
    return bind_app(create_app(make_settings(), blueprints=[failing_blueprint()])).test_client()


@pytest.mark.parametrize(
    ("path", "secrets"),
    [
        ("/failing/raise", ["secret-detail", "RuntimeError"]),
        ("/failing/sql", ["secret_column", "no_such_table", "SELECT"]),
    ],
    ids=["exception", "sql-error"],
)
def test_an_unexpected_error_is_a_500_problem_without_trace_or_detail(failing_api, path, secrets):
    response = failing_api.get(path)
    assert_problem(response, 500, "internal_error")
    text_of_response = response.get_data(as_text=True)
    for leak in ("Traceback", 'File "', *secrets):
        assert leak not in text_of_response


def test_the_app_still_serves_after_an_unexpected_error(failing_api):
    failing_api.get("/failing/raise")
    assert failing_api.get("/healthz").status_code == 200
