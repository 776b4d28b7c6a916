"""The input conventions of API.md, on every route the registry knows (issue 14, items 3, 6, 10):
unknown query parameters are a 422, a duplicated JSON key a 400, a cursor we did not issue a
400, and hostile nesting or dates never a 500. A route opts out only by declaring it."""

from __future__ import annotations

import base64
import json
import typing
from typing import Any

import pytest
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel, ConfigDict

from app import create_app, cursors
from policies import RouteEntry, TokenKind, public, route_policies
from policies.rules import RoutePolicy
from tests.conftest import bearer
from tests.factories import LoginSessionFactory, UserFactory
from tests.matrix_world import build_world, routes_app, url_of, verified_claims
from tests.samples import all_bodies

_routes_app = routes_app()
ROUTES: list[RouteEntry] = route_policies(_routes_app)
BODIES = all_bodies()
TOKEN_ENDPOINT = "oauth.token"
OPERATIONS = [
    pytest.param(entry, method, id=f"{method} {entry.rule}")
    for entry in ROUTES
    if entry.policy.strict_input
    for method in entry.methods
]


def _query_fields(entry: RouteEntry) -> set[str]:
    model = typing.get_type_hints(_routes_app.view_functions[entry.endpoint]).get("query")
    return set(model.model_fields) if model is not None else set()


LISTS = [pytest.param(entry, id=entry.rule) for entry in ROUTES if "cursor" in _query_fields(entry)]


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def operator_tokens(world, login) -> dict[str, Any]:
    """The platform admin reaches every route of every tenant: only the input can be wrong."""
    return login(world["users"]["platform-admin"])


def _url(app, entry: RouteEntry, world: dict[str, Any], tokens: dict[str, Any]) -> str:
    return url_of(entry.rule, world, verified_claims(app, tokens["access_token"]))


def _headers(entry: RouteEntry, tokens: dict[str, Any]) -> dict[str, str]:
    if entry.policy.is_public:
        return {}
    kind = "refresh_token" if entry.policy.token is TokenKind.REFRESH else "access_token"
    return bearer(tokens[kind])


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


# --- unknown query parameters (item 10) -------------------------------------------------------


def test_every_operation_is_checked():
    assert {e.endpoint for e in ROUTES} == set(_routes_app.view_functions)
    lenient = {e.endpoint for e in ROUTES if not e.policy.strict_input}
    # AuthZEN 1.0 requires the decision API to ignore unknown fields: the one deliberate opt-out,
    # tested in tests/test_decisions.py. Any other must be deliberate too: test it.
    assert lenient == {
        f"decisions.{name}"
        for name in ("evaluation", "evaluations", "search_subject", "search_resource", "search_action")
    }


@pytest.mark.parametrize(("entry", "method"), OPERATIONS)
def test_an_unknown_query_parameter_is_refused_on_every_operation(
    app, client, world, operator_tokens, entry, method
):
    url = _url(app, entry, world, operator_tokens)
    body = BODIES[entry.endpoint](world) if entry.endpoint in BODIES else None

    response = client.open(
        url + "?unexpected=1", method=method, headers=_headers(entry, operator_tokens), json=body
    )

    if entry.endpoint == TOKEN_ENDPOINT:  # RFC 6749 §5.2 form: an unsupported parameter
        assert response.status_code == 400
        assert response.get_json()["error"] == "invalid_request"
        return
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert "unexpected" in [error["field"] for error in response.get_json()["errors"]]


@pytest.mark.parametrize("path", ["/permissions?limit=5&sort=name", "/auth/sessions?user=someone-else"])
def test_lists_that_were_unpaginated_refuse_unknown_parameters(client, world, operator_tokens, path):
    # Before issue 14, `?limit=5` on these answered 200 with the whole list.
    response = client.get(path, headers=bearer(operator_tokens["access_token"]))

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] in (["sort"], ["user"])


# --- cursors (item 3b) ------------------------------------------------------------------------

ZERO_UUID = "00000000-0000-0000-0000-000000000000"
# Cursors as an attacker makes them: none carries our MAC.
FORGED_CURSORS = {
    "integer id (issue 14)": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiw1XQ",
    "not base64": "not-a-cursor!",
    "not ascii": "é.é",
    "well formed but unsigned": _cursor(["2026-01-01T00:00:00+00:00", ZERO_UUID]),
    "a name, unsigned": _cursor(["projects:read"]),
    "a made-up signature": _cursor(["2026-01-01T00:00:00+00:00", ZERO_UUID]) + ".AAAAAAAAAAAAAAAAAAAAAA",
}
# Payloads that only a bug of ours could sign: parsed as hostile all the same.
SIGNED_PAYLOADS = {
    "integer id": ["2026-01-01T00:00:00+00:00", 5],
    "an object": {"created_at": "2026-01-01T00:00:00+00:00"},
    "three parts": ["2026-01-01T00:00:00+00:00", ZERO_UUID, "x"],
    "null": None,
    "nested deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
    "naive time": ["2026-01-01T00:00:00", ZERO_UUID],
    "past year 9999 in UTC": ["9999-12-31T23:59:59-23:59", ZERO_UUID],
    "before year 1 in UTC": ["0001-01-01T00:00:00+23:59", ZERO_UUID],
    "not a uuid": ["2026-01-01T00:00:00+00:00", "42"],
    "a number": [7],
}


NOT_OURS = "is not a cursor this API issued"


def _assert_bad_cursor(response) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == [
        {"field": "cursor", "message": "is not a cursor this API issued"}
    ]


@pytest.mark.parametrize("entry", LISTS)
@pytest.mark.parametrize("cursor", FORGED_CURSORS.values(), ids=FORGED_CURSORS.keys())
def test_a_forged_cursor_is_a_400_on_every_list(app, client, world, operator_tokens, entry, cursor):
    url = _url(app, entry, world, operator_tokens)

    response = client.get(url, query_string={"cursor": cursor}, headers=_headers(entry, operator_tokens))

    _assert_bad_cursor(response)


@pytest.mark.parametrize("entry", LISTS)
@pytest.mark.parametrize("payload", SIGNED_PAYLOADS.values(), ids=SIGNED_PAYLOADS.keys())
def test_a_signed_cursor_of_the_wrong_shape_is_a_400_on_every_list(
    app, client, world, operator_tokens, entry, payload
):
    url = _url(app, entry, world, operator_tokens)
    with app.test_request_context(url):
        cursor = cursors.sign(payload)

    response = client.get(url, query_string={"cursor": cursor}, headers=_headers(entry, operator_tokens))

    _assert_bad_cursor(response)


def test_a_cursor_is_good_only_for_the_list_that_issued_it(client, world, operator_tokens):
    headers = bearer(operator_tokens["access_token"])
    acme, globex = world["tenants"]["acme"].id, world["tenants"]["globex"].id
    cursor = client.get(f"/tenants/{acme}/users?limit=1", headers=headers).get_json()["next_cursor"]
    assert cursor is not None

    same = client.get(f"/tenants/{acme}/users", query_string={"cursor": cursor}, headers=headers)
    other_list = client.get(f"/tenants/{acme}/roles", query_string={"cursor": cursor}, headers=headers)
    other_tenant = client.get(f"/tenants/{globex}/users", query_string={"cursor": cursor}, headers=headers)
    altered = client.get(f"/tenants/{acme}/users", query_string={"cursor": "A" + cursor[1:]}, headers=headers)

    assert same.status_code == 200
    _assert_bad_cursor(other_list)
    _assert_bad_cursor(other_tenant)
    _assert_bad_cursor(altered)  # a cursor starts "W" (base64 of '["'), so this one differs


def test_every_list_is_checked():
    rules = {entry.values[0].rule for entry in LISTS}
    assert {"/permissions", "/auth/sessions", "/tenants"} <= rules
    assert len(rules) >= 8


# --- pages of sessions and of the catalog (item 10) ------------------------------------------


def _walk(client, path: str, headers: dict[str, str], limit: int) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        response = client.get(
            path, query_string={"limit": limit, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        page = response.get_json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_the_permission_catalog_is_paginated_by_name(client, world, operator_tokens):
    headers = bearer(operator_tokens["access_token"])
    whole = client.get("/permissions", query_string={"limit": 100}, headers=headers).get_json()

    pages = _walk(client, "/permissions", headers, limit=3)

    names = [item["name"] for page in pages for item in page]
    assert whole["next_cursor"] is None
    assert names == [item["name"] for item in whole["items"]] == sorted(names)
    assert all(len(page) == 3 for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= 3


def test_sessions_are_paginated_newest_first(client, world, login):
    bob = UserFactory(tenant=world["tenants"]["acme"], roles=["member"])
    for _ in range(4):
        LoginSessionFactory(user=bob)
    headers = bearer(login(bob)["access_token"])  # a fifth session, the newest

    pages = _walk(client, "/auth/sessions", headers, limit=2)

    sessions = [item for page in pages for item in page]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert len({s["id"] for s in sessions}) == 5
    assert sessions[0]["current"] is True
    assert [s["created_at"] for s in sessions] == sorted((s["created_at"] for s in sessions), reverse=True)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=1&limit=2"])
@pytest.mark.parametrize("path", ["/permissions", "/auth/sessions"])
def test_bad_page_parameters_are_422(client, world, operator_tokens, path, query):
    response = client.get(f"{path}?{query}", headers=bearer(operator_tokens["access_token"]))

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["limit"]


# --- nesting and dates (items 3a, 3c) ---------------------------------------------------------

DEEP = "[" * 5000 + "]" * 5000


def test_json_nested_5000_deep_to_the_token_endpoint_is_invalid_request(client):
    response = client.post("/auth/token", data=DEEP, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_json_nested_5000_deep_to_introspection_is_a_400_problem(client):
    response = client.post("/auth/introspect", data=DEEP, content_type="application/json")

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("body", [DEEP, '{"a":' * 5000 + "1" + "}" * 5000])
def test_json_nested_5000_deep_elsewhere_is_a_400_problem(client, body):
    response = client.post("/auth/login", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_since_with_no_utc_form_is_refused_naming_since(client, world, operator_tokens, since):
    tenant = world["tenants"]["acme"].id

    response = client.get(
        f"/tenants/{tenant}/audit-events",
        query_string={"since": since},
        headers=bearer(operator_tokens["access_token"]),
    )

    # The same answer as every other `since` that names no instant (a 500 before issue 14).
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["since"]


def test_the_latest_since_that_has_a_utc_form_is_accepted(client, world, operator_tokens):
    tenant = world["tenants"]["acme"].id

    response = client.get(
        f"/tenants/{tenant}/audit-events",
        query_string={"since": "9999-12-31T23:59:59+00:00"},
        headers=bearer(operator_tokens["access_token"]),
    )

    assert response.status_code == 200
    assert response.get_json()["items"] == []


# --- duplicated JSON keys (item 6) ------------------------------------------------------------


def _with_duplicate(body: dict[str, Any]) -> str:
    """The body with its first key given twice (first a different value, then the real one)."""
    first = next(iter(body))
    rest = json.dumps(body)[1:]
    return "{" + json.dumps(first) + ": " + json.dumps("other") + ", " + rest


BODY_OPERATIONS = [
    pytest.param(entry, method, id=f"{method} {entry.rule}")
    for entry in ROUTES
    for method in entry.methods
    if entry.endpoint in BODIES and method in {"POST", "PUT", "PATCH"} and entry.policy.strict_input
]


@pytest.mark.parametrize(("entry", "method"), BODY_OPERATIONS)
def test_a_duplicated_key_is_a_400_on_every_operation_with_a_body(
    app, client, world, operator_tokens, entry, method
):
    url = _url(app, entry, world, operator_tokens)
    raw = _with_duplicate(BODIES[entry.endpoint](world))

    response = client.open(
        url,
        method=method,
        data=raw,
        content_type="application/json",
        headers=_headers(entry, operator_tokens),
    )

    assert response.status_code == 400, response.get_data(as_text=True)
    if entry.endpoint == TOKEN_ENDPOINT:
        assert response.get_json()["error"] == "invalid_request"
    else:
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["errors"][0]["message"] == "is given more than once"


def test_a_duplicated_key_nested_in_an_array_is_refused(client, world):
    raw = '{"tenant": "acme", "username": "bob", "password": "x", "extra": [{"a": 1, "a": 2}]}'

    response = client.post("/auth/login", data=raw, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"field": "a", "message": "is given more than once"}]


def test_the_same_key_in_two_objects_is_not_a_duplicate(client, world):
    raw = '{"tenant": "acme", "username": "nobody", "password": "wrong-password", "x": {"tenant": 1}}'

    response = client.post("/auth/login", data=raw, content_type="application/json")

    # It reaches validation, which refuses the unknown field `x` (422), not the parser (400).
    assert response.status_code == 422


# --- the declared opt-out (for the AuthZEN decision API) ---------------------------------------


class _Ask(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subject: str


def _lenient_blueprint() -> APIBlueprint:
    bp = APIBlueprint("lenient_probe", __name__)

    @bp.post("/probe/lenient")
    @public("test: a contract that ignores unknown fields", strict_input=False)
    def lenient(body: _Ask) -> dict[str, Any]:
        return {"subject": body.subject}

    @bp.post("/probe/strict")
    @public("test: the default")
    def strict(body: _Ask) -> dict[str, Any]:
        return {"subject": body.subject}

    return bp


@pytest.fixture
def probe_client(make_settings, bind_app, db):
    return bind_app(
        create_app(make_settings(), blueprints=[_lenient_blueprint()], TESTING=True)
    ).test_client()


def test_a_route_that_opts_out_accepts_duplicates_and_unknown_parameters(probe_client):
    raw = '{"subject": "first", "subject": "last", "unknown": 1}'

    lenient = probe_client.post("/probe/lenient?page=2", data=raw, content_type="application/json")
    strict = probe_client.post("/probe/strict", data=raw, content_type="application/json")
    strict_query = probe_client.post("/probe/strict?page=2", json={"subject": "x"})

    assert lenient.status_code == 200
    assert lenient.get_json() == {"subject": "last"}
    assert strict.status_code == 400
    assert strict_query.status_code == 422


def test_an_opted_out_route_still_refuses_malformed_and_deep_json(probe_client):
    assert probe_client.post("/probe/lenient", data=DEEP, content_type="application/json").status_code == 400
    assert probe_client.post("/probe/lenient", data="{", content_type="application/json").status_code == 400


def test_the_opt_out_is_declared_in_the_policy_and_the_document(probe_client):
    spec = probe_client.get("/openapi.json").get_json()

    assert spec["paths"]["/probe/lenient"]["post"]["x-lenient-input"] is True
    assert "x-lenient-input" not in spec["paths"]["/probe/strict"]["post"]
    assert RoutePolicy.__dataclass_fields__["strict_input"].default is True
