"""Review: client input that reaches a 500 (API.md: a 500 is never the answer to bad input).

1. /auth/introspect takes its parameters from Python's json module, which accepts lone UTF-16
   surrogates ("\\ud800"); the token and the client credentials reach PyJWT / HMAC unvalidated
   and `.encode("utf-8")` raises UnicodeEncodeError.
2. On PostgreSQL (CI runs the suite there too) a NUL character in a login name, tenant slug
   or client_id reaches the database: psycopg refuses NUL in text parameters (DataError).
"""

from __future__ import annotations

import json

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
