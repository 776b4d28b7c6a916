"""Review: client input that reaches a 500 (API.md: a 500 is never the answer to bad input).

1. /auth/introspect takes its parameters from Python's json module, which accepts lone UTF-16
   surrogates ("\\ud800"); the token and the client credentials reach PyJWT / HMAC unvalidated
   and `.encode("utf-8")` raises UnicodeEncodeError.
2. On PostgreSQL (CI runs the suite there too) a NUL character in a login name, tenant slug
   or client_id reaches the database: psycopg refuses NUL in text parameters (DataError).
3. Python's json module reads NaN, Infinity and 1e400 (as infinity), which are not JSON:
   PostgreSQL's json type refuses them (DataError), SQLite stored null. And the decision API
   passed a NUL or a lone surrogate in a subject, resource or owner name to the database.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from app.provisioning import create_tenant
from app.services import services
from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory, TenantFactory

LONE_SURROGATE = "\\ud800"  # as written inside a JSON string


@pytest.mark.parametrize("field", ["token", "client_id", "client_secret"])
def test_introspection_with_a_lone_surrogate_in_a_json_parameter_is_not_a_500(client, db, field):
    acme = TenantFactory()
    integration = ClientFactory(tenant=acme, scopes=["tokens:introspect"])
    params = {"token": "a.b.c", "client_id": integration.client_id, "client_secret": DEFAULT_CLIENT_SECRET}
    params[field] = "x@@"
    raw = json.dumps(params).replace("@@", LONE_SURROGATE)

    response = client.post("/auth/introspect", data=raw, content_type="application/json")

    assert response.status_code != 500
    assert response.status_code in (200, 400, 401)


# ----------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_app(postgres_app: Flask) -> Flask:
    app = postgres_app
    with services(app).database.sessions() as session, session.begin():
        create_tenant(session, "acme", "Acme")
    return app


@pytest.mark.parametrize(
    "body",
    [
        {"tenant": "ac\u0000me", "username": "alice", "password": "whatever-password"},
        {"tenant": "acme", "username": "al\u0000ice", "password": "whatever-password"},
    ],
    ids=["nul-in-tenant", "nul-in-username"],
)
def test_login_with_a_nul_character_is_refused_not_a_500_on_postgres(pg_app, body):
    response = pg_app.test_client().post("/auth/login", json=body)

    # No tenant or username holds a control character: the body is invalid (422), not a 500.
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["errors"][0]["field"] in {"tenant", "username"}


@pytest.mark.parametrize("endpoint", ["/auth/token", "/auth/introspect"])
def test_a_client_id_with_a_nul_character_is_invalid_client_not_a_500_on_postgres(pg_app, endpoint):
    response = pg_app.test_client().post(
        endpoint,
        data={
            "grant_type": "client_credentials",
            "token": "a.b.c",
            "client_id": "cli_\u0000",
            "client_secret": "x",
        },
    )

    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_client"


# ----------------------------------------------------------------------------- anywhere

# Python's json module reads these; RFC 8259 §6 does not ("Infinity and NaN are not
# permitted"), PostgreSQL's json type refuses them (a 500 there), and SQLite would store them
# and answer a body that is not JSON.
NOT_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
def test_a_number_json_does_not_have_is_a_400_not_a_500(client, admin, auth_headers, number):
    raw = '{"properties": {"weight": ' + number + "}}"

    response = client.put(
        f"/tenants/{admin.tenant_id}/resources/doc/d1",
        data=raw,
        content_type="application/json",
        headers=auth_headers(admin),
    )

    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
def test_a_number_json_does_not_have_is_a_400_for_the_decision_api_too(client, admin, auth_headers, number):
    raw = (
        '{"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"},'
        ' "resource": {"type": "projects", "id": "p1"}, "context": {"risk": ' + number + "}}"
    )

    response = client.post(
        "/access/v1/evaluation", data=raw, content_type="application/json", headers=auth_headers(admin)
    )

    assert response.status_code == 400, response.get_data(as_text=True)


UNSTORABLE = {"nul": "a\\u0000b", "lone-surrogate": "\\ud800"}  # as written inside a JSON string


def _evaluation(where: str, value: str) -> str:
    body = {
        "subject": {"type": "user", "id": "alice"},
        "action": {"name": "read"},
        "resource": {"type": "projects", "id": "p1"},
    }
    entity, name = where.split(".")
    if entity == "client":
        body["subject"] = {"type": "client", "id": "@@"}
    else:
        body[entity][name] = "@@"
    return json.dumps(body).replace("@@", value)


@pytest.mark.parametrize("value", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize("where", ["subject.id", "client.id", "resource.id", "resource.type", "action.name"])
def test_a_decision_about_an_unstorable_name_is_that_of_an_unknown_name(
    client, admin, auth_headers, where, value
):
    # A NUL reaches PostgreSQL (DataError) and a lone surrogate any driver (UnicodeEncodeError).
    # JSON carries both and AuthZEN's schema allows them: such a name names nothing we store,
    # so it is answered as any other unknown name.
    def decide(name: str) -> Any:
        return client.post(
            "/access/v1/evaluation",
            data=_evaluation(where, name),
            content_type="application/json",
            headers=auth_headers(admin),
        )

    response = decide(value)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == decide("nothing-by-this-name").get_json()


@pytest.mark.parametrize("value", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_an_unstorable_name_in_a_batch_is_one_unknown_subject(client, admin, auth_headers, value):
    raw = (
        '{"evaluations": ['
        + _evaluation("subject.id", value)
        + ', {"subject": {"type": "user", "id": "'
        + admin.username
        + '"}, "action": {"name": "read"}, "resource": {"type": "projects", "id": "p1"}}]}'
    )

    response = client.post(
        "/access/v1/evaluations", data=raw, content_type="application/json", headers=auth_headers(admin)
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    first, second = response.get_json()["evaluations"]
    assert (first["decision"], first["context"]["reason_code"]) == (False, "unknown_subject")
    assert second["decision"] is True


READ = {"name": "read"}
SEARCHES = {
    "subject": {"subject": {"type": "user"}, "action": READ, "resource": {"type": "@@", "id": "x"}},
    "resource": {"subject": {"type": "user", "id": "@@"}, "action": READ, "resource": {"type": "doc"}},
    "action": {"subject": {"type": "client", "id": "@@"}, "resource": {"type": "doc", "id": "x"}},
}


@pytest.mark.parametrize("value", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize("endpoint", SEARCHES)
def test_a_search_about_an_unstorable_name_finds_nothing_not_a_500(
    client, admin, auth_headers, endpoint, value
):
    response = client.post(
        f"/access/v1/search/{endpoint}",
        data=json.dumps(SEARCHES[endpoint]).replace("@@", value),
        content_type="application/json",
        headers=auth_headers(admin),
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["results"] == []


@pytest.mark.parametrize("value", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize("where", ["id", "owner_id"])
def test_a_subject_search_under_an_ownership_rule_with_an_unstorable_name_is_not_a_500(
    client, admin, operator, auth_headers, where, value
):
    # An ownership rule asks the database who owns the resource: its registered owner, or the
    # owner the caller names in resource.properties.owner_id.
    platform = auth_headers(operator)
    client.post("/permissions", json={"name": "docs:manage", "description": "Docs"}, headers=platform)
    client.post(
        "/permissions",
        json={"name": "docs:edit", "description": "Docs", "owner_override": "docs:manage", "member": True},
        headers=platform,
    )
    resource = {"type": "docs", "id": "d1", "properties": {"owner_id": admin.username}}
    resource[where] = "@@" if where == "id" else None
    if where == "owner_id":
        resource["properties"] = {"owner_id": "@@"}
    body = {"subject": {"type": "user"}, "action": {"name": "edit"}, "resource": resource}

    response = client.post(
        "/access/v1/search/subject",
        data=json.dumps(body).replace("@@", value),
        content_type="application/json",
        headers=auth_headers(admin),
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert [r["id"] for r in response.get_json()["results"]] == [admin.username]  # by docs:manage
