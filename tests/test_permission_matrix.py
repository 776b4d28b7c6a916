"""Who may do what on every route, derived from the declared policies.

For every registered route and every actor (anonymous, each built-in role, a platform
admin, and an admin of another tenant) the expected status is computed from the route's
`RoutePolicy` and the actor's permissions in the catalog, never copied by hand.
A route that takes a body but has no sample in tests/samples/ fails its cases, never passes silently.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.openapi_document import openapi_path
from policies import PrincipalKind, RouteEntry, TokenKind, route_policies
from tests.conftest import bearer
from tests.matrix_world import ACTORS, TARGET_TENANT, Actor, build_world, routes_app, url_of, verified_claims
from tests.samples import all_bodies

_routes_app = routes_app()
ROUTES: list[RouteEntry] = route_policies(_routes_app)
SPEC_PATHS: dict[str, Any] = _routes_app.api_doc["paths"]


VALID_BODIES = all_bodies()
SUCCESS = "success"


def expected_outcome(entry: RouteEntry, actor: Actor) -> int | str:
    """The status the policy promises for this actor on the target of tenant acme."""
    policy = entry.policy
    if policy.is_public:
        return SUCCESS
    if policy.client_scope is not None:
        return SUCCESS  # the sample authenticates as the world's client, which holds the scope
    if actor.kind is None:
        return 401
    if policy.token is TokenKind.REFRESH and actor.kind is PrincipalKind.CLIENT:
        return 401  # a client has no refresh token: its access token is refused there
    if actor.kind not in policy.principals:
        return 403
    if policy.tenant_param is not None and actor.tenant != TARGET_TENANT:
        return SUCCESS if policy.platform_bypass in actor.permissions else 404
    if policy.permissions - actor.permissions:
        return 403
    if policy.ownership is not None and policy.ownership.override not in actor.permissions:
        return 403  # no actor owns the target project
    return SUCCESS


def declared_success_status(entry: RouteEntry, method: str) -> int:
    """The 2xx the route declares in the OpenAPI document (200 for undocumented pages)."""
    path = openapi_path(entry.rule)
    operation = SPEC_PATHS.get(path, {}).get(method.lower(), {})
    declared = sorted(int(code) for code in operation.get("responses", {}) if code.startswith("2"))
    return declared[0] if declared else 200


@pytest.fixture
def world(db):
    return build_world()


CASES = [
    pytest.param(entry, method, actor, id=f"{method} {entry.rule} as {actor.name}")
    for entry in ROUTES
    for method in entry.methods
    for actor in ACTORS
]


def test_every_route_is_in_the_matrix():
    assert {e.endpoint for e in ROUTES} == set(_routes_app.view_functions)


def client_token_headers(client, world, actor) -> dict[str, str]:
    """A client actor's bearer header, from the token endpoint as an integration gets it."""
    issued = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(actor.name, world["client_secret"]),
    ).get_json()
    return bearer(issued["access_token"])


@pytest.mark.parametrize(("entry", "method", "actor"), CASES)
def test_route_answers_what_its_policy_declares(app, client, login, world, entry, method, actor):
    headers, claims = {}, {}
    if actor.kind is PrincipalKind.CLIENT:
        headers = client_token_headers(client, world, actor)
    elif actor.role is not None:
        tokens = login(world["users"][actor.name])
        token_kind = "refresh_token" if entry.policy.token is TokenKind.REFRESH else "access_token"
        headers = bearer(tokens[token_kind])
        claims = verified_claims(app, tokens["access_token"])
    url = url_of(entry.rule, world, claims)
    view = _routes_app.view_functions[entry.endpoint]
    # Views that parse their own body (form-encoded OAuth endpoints) list a sample too.
    needs_body = "body" in getattr(view, "__annotations__", {}) or entry.endpoint in VALID_BODIES
    if needs_body:
        assert entry.endpoint in VALID_BODIES, f"add a valid sample body for {entry.endpoint}"
    body = VALID_BODIES[entry.endpoint](world) if needs_body else None

    response = client.open(url, method=method, headers=headers, json=body)

    outcome = expected_outcome(entry, actor)
    if outcome == SUCCESS:
        assert response.status_code == declared_success_status(entry, method), response.get_data(as_text=True)
        return
    assert response.status_code == outcome, response.get_data(as_text=True)
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    if outcome == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if outcome == 403 and actor.kind not in entry.policy.principals:
        assert problem["required_permissions"] == []
    elif outcome == 403:
        missing = entry.policy.permissions - actor.permissions
        required = missing or {entry.policy.ownership.override}
        assert problem["required_permissions"] == sorted(required)
    if outcome == 404:
        assert problem["code"] == "not_found"


# --- routes a client may call with its own access token instead of its credentials ------------

CLIENT_CREDENTIALS = ("client_id", "client_secret")
CLIENT_SCOPE_CASES = [
    pytest.param(entry, method, actor, id=f"{method} {entry.rule} as {actor.name}, by bearer token")
    for entry in ROUTES
    if entry.policy.client_scope is not None
    for method in entry.methods
    for actor in ACTORS
]


def expected_by_bearer(entry: RouteEntry, actor: Actor) -> tuple[int | str, list[str]]:
    """The status (and the 403's required_permissions) the policy promises when the actor
    presents only its own access token: the route's permissions, or for a client its scope."""
    policy = entry.policy
    if actor.kind is None:
        return 401, []
    if not policy.permissions - actor.permissions:
        return SUCCESS, []
    if actor.kind is PrincipalKind.CLIENT:
        assert policy.client_scope is not None
        return (SUCCESS, []) if policy.client_scope in actor.permissions else (403, [policy.client_scope])
    return 403, sorted(policy.permissions - actor.permissions)


def test_the_bearer_token_cases_cover_admission_and_refusal():
    """The cases below prove something only if a client and a user get in and others do not."""
    outcomes = {
        (actor.kind, expected_by_bearer(entry, actor)[0])
        for entry, _method, actor in (case.values for case in CLIENT_SCOPE_CASES)
    }

    assert {
        (PrincipalKind.CLIENT, SUCCESS),
        (PrincipalKind.USER, SUCCESS),
        (PrincipalKind.USER, 403),
        (None, 401),
    } <= outcomes


@pytest.mark.parametrize(("entry", "method", "actor"), CLIENT_SCOPE_CASES)
def test_client_scope_route_by_bearer_token_answers_what_its_policy_declares(
    app, client, login, world, entry, method, actor
):
    headers = {}
    if actor.kind is PrincipalKind.CLIENT:
        headers = client_token_headers(client, world, actor)
    elif actor.role is not None:
        headers = bearer(login(world["users"][actor.name])["access_token"])
    sample = VALID_BODIES[entry.endpoint](world)
    body = {name: value for name, value in sample.items() if name not in CLIENT_CREDENTIALS}

    response = client.open(url_of(entry.rule, world, {}), method=method, headers=headers, json=body)

    outcome, required = expected_by_bearer(entry, actor)
    if outcome == SUCCESS:
        assert response.status_code == declared_success_status(entry, method), response.get_data(as_text=True)
        return
    assert response.status_code == outcome, response.get_data(as_text=True)
    if outcome == 403:
        assert response.get_json()["required_permissions"] == required
