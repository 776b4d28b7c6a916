"""`POST /auth/token`: OAuth 2.0 client credentials (RFC 6749 §4.4, §5), and client tokens
through the policy layer.

Form bodies (RFC 6749 §4.4.2) need the token endpoint to be exempt from the app-wide
JSON-only rule (app/http.py); the same requests as JSON are tested alongside.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.requests_client import OAuthError as AuthlibOAuthError
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from app.clients.service import hash_client_secret
from app.provisioning import create_tenant, create_user, roles_by_name
from app.services import services
from models import AuditEvent, Client, Project
from tests.conftest import PASSWORD, bearer
from tests.databases import fresh_database, upgrade
from tests.factories import ProjectFactory, TenantFactory
from tests.matrix_world import verified_claims

TOKEN_URL = "/auth/token"
GRANT = {"grant_type": "client_credentials"}
TOKEN_FIELDS = {"access_token", "token_type", "expires_in", "scope"}
BASIC_CHALLENGE = 'Basic realm="authz"'


@pytest.fixture
def integration(client, acme, admin, auth_headers) -> dict[str, Any]:
    """A client of acme made through the API (so with a real secret): projects:read, users:read."""
    response = client.post(
        f"/tenants/{acme.id}/clients",
        json={"name": "Reporting", "scopes": ["users:read", "projects:read"]},
        headers=auth_headers(admin),
    )
    assert response.status_code == 201
    return response.get_json()


def basic(client_id: str, secret: str) -> dict[str, str]:
    """client_secret_basic with RFC 6749 §2.3.1's form-urlencoding of each part."""
    credentials = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def post_credentials(integration: dict[str, Any]) -> dict[str, str]:
    return {"client_id": integration["client_id"], "client_secret": integration["client_secret"]}


def assert_oauth_error(response, status: int, error: str) -> dict[str, Any]:
    """An RFC 6749 §5.2 error: JSON (not problem+json), exactly error and error_description."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert response.headers["Cache-Control"] == "no-store"
    if status == 401:
        assert response.headers["WWW-Authenticate"] == BASIC_CHALLENGE
    return body


def events(db, action: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- issuing -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_json_request_gets_a_bearer_token_with_all_the_clients_scopes(client, integration, method):
    if method == "client_secret_basic":
        response = client.post(
            TOKEN_URL, json=GRANT, headers=basic(integration["client_id"], integration["client_secret"])
        )
    else:
        response = client.post(TOKEN_URL, json={**GRANT, **post_credentials(integration)})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == TOKEN_FIELDS  # no refresh token (RFC 6749 §4.4.3)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "projects:read users:read"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_form_request_gets_a_bearer_token(client, integration, method):
    # Needs the app/http.py exemption of oauth.token from the JSON-only rule.
    if method == "client_secret_basic":
        response = client.post(
            TOKEN_URL, data=GRANT, headers=basic(integration["client_id"], integration["client_secret"])
        )
    else:
        response = client.post(TOKEN_URL, data={**GRANT, **post_credentials(integration)})

    assert response.status_code == 200, response.get_json()
    assert set(response.get_json()) == TOKEN_FIELDS
    assert response.headers["Pragma"] == "no-cache"


def test_the_token_names_the_client_its_tenant_and_its_scopes_and_no_session(app, client, acme, integration):
    token = client.post(TOKEN_URL, json={**GRANT, **post_credentials(integration)}).get_json()["access_token"]

    claims = verified_claims(app, token)

    assert claims["sub"] == claims["client_id"] == integration["client_id"]
    assert claims["tenant_id"] == str(acme.id)
    assert claims["permissions"] == ["projects:read", "users:read"]
    assert claims["roles"] == []
    assert claims["authz_ver"] == 1
    assert claims["type"] == "access"
    assert "sid" not in claims


def test_a_scope_narrows_the_token(app, client, integration):
    response = client.post(
        TOKEN_URL, json={**GRANT, **post_credentials(integration), "scope": "projects:read"}
    )

    assert response.status_code == 200
    assert response.get_json()["scope"] == "projects:read"
    assert verified_claims(app, response.get_json()["access_token"])["permissions"] == ["projects:read"]


@pytest.mark.parametrize(
    "scope", ["projects:read projects:write", "clients:write", "no:such", "platform:read"]
)
def test_a_scope_beyond_the_clients_is_invalid_scope_and_audited(client, db, integration, scope):
    response = client.post(TOKEN_URL, json={**GRANT, **post_credentials(integration), "scope": scope})

    assert_oauth_error(response, 400, "invalid_scope")
    (event,) = events(db, "client.token.refused")
    assert event.details["reason"] == "invalid_scope"
    assert event.details["requested"] == sorted(scope.split())
    assert events(db, "client.token.issued") == []


def test_basic_credentials_are_form_urlencoded_per_rfc_6749_2_3_1(client, integration):
    # Every character percent-encoded: a conforming client may encode more than it must.
    def encode_all(text: str) -> str:
        return "".join(f"%{b:02X}" for b in text.encode())

    credentials = f"{encode_all(integration['client_id'])}:{encode_all(integration['client_secret'])}"
    header = {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}

    response = client.post(TOKEN_URL, json=GRANT, headers=header)

    assert response.status_code == 200, response.get_json()


def test_a_bearer_header_is_not_client_authentication_and_does_not_get_in_the_way(
    client, admin, integration, auth_headers
):
    response = client.post(
        TOKEN_URL, json={**GRANT, **post_credentials(integration)}, headers=auth_headers(admin)
    )

    assert response.status_code == 200


def test_issuing_is_audited_as_the_client_without_the_secret(app, client, db, acme, integration):
    token = client.post(TOKEN_URL, json={**GRANT, **post_credentials(integration)}).get_json()["access_token"]

    (event,) = events(db, "client.token.issued")

    assert event.tenant_id == acme.id
    assert (event.actor_type, event.actor_id) == ("client", integration["client_id"])
    assert event.target_id == integration["id"]
    assert event.details["scopes"] == ["projects:read", "users:read"]
    assert event.details["jti"] == verified_claims(app, token)["jti"]
    assert integration["client_secret"] not in json.dumps(event.details)


# --- refusing: RFC 6749 §5.2 -------------------------------------------------------------


def test_a_wrong_secret_an_unknown_client_and_a_revoked_client_get_the_same_answer(
    client, acme, admin, integration, auth_headers
):
    other = client.post(
        f"/tenants/{acme.id}/clients", json={"name": "Old", "scopes": []}, headers=auth_headers(admin)
    ).get_json()
    client.delete(f"/tenants/{acme.id}/clients/{other['id']}", headers=auth_headers(admin))

    answers = [
        client.post(TOKEN_URL, json=GRANT, headers=basic(integration["client_id"], "wrong-secret")),
        client.post(TOKEN_URL, json=GRANT, headers=basic("cli_nobody", integration["client_secret"])),
        client.post(TOKEN_URL, json=GRANT, headers=basic(other["client_id"], other["client_secret"])),
        client.post(
            TOKEN_URL, json={**GRANT, "client_id": integration["client_id"], "client_secret": "wrong"}
        ),
    ]

    bodies = {json.dumps(assert_oauth_error(a, 401, "invalid_client"), sort_keys=True) for a in answers}
    assert len(bodies) == 1


def test_every_refused_authentication_is_audited_with_its_reason_never_the_secret(
    client, db, acme, integration
):
    client.post(TOKEN_URL, json=GRANT, headers=basic(integration["client_id"], "the-wrong-secret"))
    client.post(TOKEN_URL, json=GRANT, headers=basic("cli_nobody", "another-wrong-secret"))

    refused = {e.details["reason"]: e for e in events(db, "client.token.refused")}

    assert set(refused) == {"wrong_secret", "unknown_client"}
    assert refused["wrong_secret"].tenant_id == acme.id
    assert refused["wrong_secret"].target_id == integration["id"]
    assert refused["wrong_secret"].outcome == "failure"
    assert refused["unknown_client"].tenant_id is None
    assert refused["unknown_client"].details["client_id"] == "cli_nobody"
    logged = json.dumps([e.details for e in refused.values()])
    assert "wrong-secret" not in logged
    assert integration["client_secret"] not in logged


def test_a_suspended_tenants_client_is_told_so_only_with_its_secret(client, db, acme, integration):
    acme.status = "suspended"
    db.flush()

    right = client.post(TOKEN_URL, json={**GRANT, **post_credentials(integration)})
    wrong = client.post(
        TOKEN_URL, json={**GRANT, "client_id": integration["client_id"], "client_secret": "x"}
    )

    assert assert_oauth_error(right, 400, "unauthorized_client")["error_description"].endswith("suspended.")
    assert_oauth_error(wrong, 401, "invalid_client")


def test_no_client_authentication_is_invalid_client_with_a_basic_challenge(client):
    assert_oauth_error(client.post(TOKEN_URL, json=GRANT), 401, "invalid_client")


def test_a_client_id_without_its_secret_is_invalid_client(client, integration):
    response = client.post(TOKEN_URL, json={**GRANT, "client_id": integration["client_id"]})

    assert_oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b":secret-only").decode(),
        "Basic " + base64.b64encode(b"cli_x:%ff").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic",
    ],
)
def test_malformed_basic_credentials_are_invalid_client(client, authorization):
    response = client.post(TOKEN_URL, json=GRANT, headers={"Authorization": authorization})

    assert_oauth_error(response, 401, "invalid_client")


def test_two_authentication_methods_at_once_are_invalid_request(client, integration):
    response = client.post(
        TOKEN_URL,
        json={**GRANT, **post_credentials(integration)},
        headers=basic(integration["client_id"], integration["client_secret"]),
    )

    assert_oauth_error(response, 400, "invalid_request")


def test_a_client_id_in_the_body_must_match_the_basic_one(client, integration):
    headers = basic(integration["client_id"], integration["client_secret"])

    same = client.post(TOKEN_URL, json={**GRANT, "client_id": integration["client_id"]}, headers=headers)
    other = client.post(TOKEN_URL, json={**GRANT, "client_id": "cli_someone_else"}, headers=headers)

    assert same.status_code == 200
    assert_oauth_error(other, 400, "invalid_request")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "invalid_request"),
        ({"scope": "projects:read"}, "invalid_request"),
        ({"grant_type": ""}, "invalid_request"),  # empty is absent (RFC 6749 §3.2)
        ({"grant_type": 1}, "invalid_request"),
        ({"grant_type": ["client_credentials"]}, "invalid_request"),
        ({"grant_type": "client_credentials", "scope": ["projects:read"]}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, "unsupported_grant_type"),
    ],
)
def test_malformed_or_unsupported_grants(client, integration, body, error):
    headers = basic(integration["client_id"], integration["client_secret"])

    response = client.post(TOKEN_URL, json=body, headers=headers)

    assert_oauth_error(response, 400, error)


def test_unknown_parameters_are_ignored(client, integration):
    # RFC 6749 §3.2: the authorization server MUST ignore unrecognized request parameters.
    body = {**GRANT, **post_credentials(integration), "audience": "https://api.example"}

    assert client.post(TOKEN_URL, json=body).status_code == 200


@pytest.mark.parametrize("raw", ['["client_credentials"]', '"client_credentials"', "null", "{"])
def test_a_json_body_that_is_not_an_object_is_invalid_request(client, raw):
    response = client.post(TOKEN_URL, data=raw, content_type="application/json")

    assert_oauth_error(response, 400, "invalid_request")


def test_credentials_in_the_uri_are_refused(client, integration):
    query = f"?client_id={integration['client_id']}&client_secret={quote(integration['client_secret'])}"

    response = client.post(TOKEN_URL + query, json=GRANT)

    assert_oauth_error(response, 400, "invalid_request")


def test_a_repeated_form_parameter_is_invalid_request(client, integration):
    # Needs the app/http.py exemption of oauth.token from the JSON-only rule.
    response = client.post(
        TOKEN_URL,
        data="grant_type=client_credentials&grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        headers=basic(integration["client_id"], integration["client_secret"]),
    )

    assert_oauth_error(response, 400, "invalid_request")


def test_a_body_neither_form_nor_json_is_invalid_request(client, integration):
    # Needs the app/http.py exemption of oauth.token from the JSON-only rule (today: 415).
    response = client.post(
        TOKEN_URL,
        data="grant_type=client_credentials",
        content_type="text/plain",
        headers=basic(integration["client_id"], integration["client_secret"]),
    )

    assert_oauth_error(response, 400, "invalid_request")


def test_errors_before_the_view_are_in_oauth_form_too(client):
    malformed_authorization = client.post(TOKEN_URL, json=GRANT, headers={"Authorization": "Basic a,,"})

    assert_oauth_error(malformed_authorization, 401, "invalid_client")


def test_other_methods_are_not_allowed(client):
    assert client.get(TOKEN_URL).status_code == 405


# --- client tokens through the policy layer ----------------------------------------------


@pytest.fixture
def client_token(client, integration) -> str:
    return client.post(TOKEN_URL, json={**GRANT, **post_credentials(integration)}).get_json()["access_token"]


def test_a_client_token_lists_its_tenants_projects(client, acme, client_token):
    project = ProjectFactory(tenant=acme)

    response = client.get(f"/tenants/{acme.id}/projects", headers=bearer(client_token))

    assert response.status_code == 200
    assert [p["id"] for p in response.get_json()["items"]] == [str(project.id)]


def test_a_client_token_is_a_404_on_another_tenants_path(client, client_token):
    globex = TenantFactory(slug="globex")
    ProjectFactory(tenant=globex)

    response = client.get(f"/tenants/{globex.id}/projects", headers=bearer(client_token))

    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_a_client_token_is_a_403_where_it_lacks_the_permission(client, acme, client_token):
    creating = client.post(f"/tenants/{acme.id}/projects", json={"name": "X"}, headers=bearer(client_token))
    listing_clients = client.get(f"/tenants/{acme.id}/clients", headers=bearer(client_token))

    assert creating.status_code == listing_clients.status_code == 403
    assert creating.get_json()["required_permissions"] == ["projects:write"]
    assert listing_clients.get_json()["required_permissions"] == ["clients:read"]


def test_a_client_token_cannot_reach_platform_routes(client, client_token):
    listing = client.get("/tenants", headers=bearer(client_token))
    creating = client.post("/tenants", json={"slug": "evil", "name": "Evil"}, headers=bearer(client_token))

    assert listing.status_code == creating.status_code == 403
    assert listing.get_json()["required_permissions"] == ["platform:read"]


def test_a_narrowed_token_holds_only_what_it_asked_for(client, acme, integration):
    token = client.post(
        TOKEN_URL, json={**GRANT, **post_credentials(integration), "scope": "users:read"}
    ).get_json()["access_token"]

    response = client.get(f"/tenants/{acme.id}/projects", headers=bearer(token))

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["projects:read"]


def test_a_client_token_knows_who_it_is(client, acme, integration, client_token):
    response = client.get("/auth/me", headers=bearer(client_token))

    assert response.status_code == 200
    me = response.get_json()
    assert me["client"] == {"client_id": integration["client_id"]}
    assert me["tenant"]["id"] == str(acme.id)
    assert me["roles"] == []


def test_after_revocation_the_token_fails_on_the_very_next_request(
    client, acme, admin, integration, client_token, auth_headers
):
    projects = f"/tenants/{acme.id}/projects"
    assert client.get(projects, headers=bearer(client_token)).status_code == 200

    client.delete(f"/tenants/{acme.id}/clients/{integration['id']}", headers=auth_headers(admin))
    after = client.get(projects, headers=bearer(client_token))
    new_token = client.post(TOKEN_URL, json={**GRANT, **post_credentials(integration)})

    assert after.status_code == 401
    assert after.get_json()["code"] == "token_revoked"
    assert_oauth_error(new_token, 401, "invalid_client")


def test_after_rotation_old_tokens_and_the_old_secret_fail_and_the_new_secret_works(
    client, acme, admin, integration, client_token, auth_headers
):
    projects = f"/tenants/{acme.id}/projects"
    assert client.get(projects, headers=bearer(client_token)).status_code == 200

    rotated = client.post(
        f"/tenants/{acme.id}/clients/{integration['id']}/secret", headers=auth_headers(admin)
    ).get_json()
    old_token = client.get(projects, headers=bearer(client_token))
    old_secret = client.post(TOKEN_URL, json={**GRANT, **post_credentials(integration)})
    new_secret = client.post(TOKEN_URL, json={**GRANT, **post_credentials(rotated)})

    assert old_token.status_code == 401
    assert old_token.get_json()["code"] == "token_revoked"
    assert_oauth_error(old_secret, 401, "invalid_client")
    assert new_secret.status_code == 200
    fresh = new_secret.get_json()["access_token"]
    assert client.get(projects, headers=bearer(fresh)).status_code == 200


def test_a_suspended_tenants_client_token_is_refused(client, db, acme, client_token):
    acme.status = "suspended"
    db.flush()

    response = client.get(f"/tenants/{acme.id}/projects", headers=bearer(client_token))

    assert response.status_code == 403
    assert response.get_json()["code"] == "tenant_suspended"


# --- a real OAuth 2.0 client library against a real server --------------------------------

LIVE_SECRET = "live-test-secret-" + "s" * 32


@contextlib.contextmanager
def serving(app: Flask) -> Iterator[dict[str, Any]]:
    """`app` (on a committing database of its own) served over HTTP on 127.0.0.1, with a
    tenant, a project and a client whose secret is known."""
    key = services(app).client_secret_key
    passwords = services(app).passwords
    with services(app).database.sessions() as session, session.begin():
        acme = create_tenant(session, "acme", "Acme")
        (admin_role,) = roles_by_name(session, acme, ["admin"]).values()
        owner = create_user(session, acme, "admin", passwords.hash(PASSWORD), roles=[admin_role])
        session.add(Project(tenant_id=acme.id, name="Roadmap"))
        session.add(
            Client(
                tenant_id=acme.id,
                client_id="cli_live",
                name="Live",
                secret_hash=hash_client_secret(LIVE_SECRET, key),
                scopes=["projects:read", "users:read"],
                created_by=owner.id,
            )
        )
        tenant_id = acme.id
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"base": f"http://127.0.0.1:{server.port}", "tenant_id": tenant_id}
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live(committing_app) -> Iterator[dict[str, Any]]:
    with serving(committing_app) as server:
        yield server


@pytest.fixture
def live_throttled(tmp_path, make_settings) -> Iterator[dict[str, Any]]:
    """`live` whose token endpoint lets a client in once a minute."""
    with fresh_database(tmp_path, "throttled") as url:
        upgrade(url)
        app = create_app(make_settings(database_url=url, token_limit_per_client="1 per minute"), TESTING=True)
        try:
            with serving(app) as server:
                yield server
        finally:
            services(app).database.engine.dispose()


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_authlib_fetches_a_token_and_calls_a_protected_route(live, auth_method):
    # Authlib sends a form body: needs the app/http.py exemption of oauth.token.
    with OAuth2Session(
        "cli_live", LIVE_SECRET, token_endpoint_auth_method=auth_method, scope="projects:read"
    ) as oauth:
        token = oauth.fetch_token(live["base"] + TOKEN_URL, grant_type="client_credentials", timeout=10)
        projects = oauth.get(f"{live['base']}/tenants/{live['tenant_id']}/projects", timeout=10)

    assert token["token_type"] == "Bearer"
    assert token["scope"] == "projects:read"
    assert "refresh_token" not in token
    assert projects.status_code == 200
    assert [p["name"] for p in projects.json()["items"]] == ["Roadmap"]


def test_authlib_reads_our_invalid_client_error(live):
    # Authlib sends a form body: needs the app/http.py exemption of oauth.token.
    with (
        OAuth2Session(
            "cli_live", "not-the-secret", token_endpoint_auth_method="client_secret_basic"
        ) as oauth,
        pytest.raises(AuthlibOAuthError) as refused,
    ):
        oauth.fetch_token(live["base"] + TOKEN_URL, grant_type="client_credentials", timeout=10)

    assert refused.value.error == "invalid_client"


def test_authlib_reads_slow_down_from_the_token_endpoints_429(live_throttled):
    """The 429 is a problem (application/problem+json) carrying RFC 6749's `error`: an OAuth
    client library reads it as the OAuth error `slow_down`, whatever the media type."""
    answers: list[requests.Response] = []
    with OAuth2Session("cli_live", LIVE_SECRET, token_endpoint_auth_method="client_secret_basic") as oauth:
        oauth.hooks["response"].append(lambda response, *_args, **_kwargs: answers.append(response))
        oauth.fetch_token(live_throttled["base"] + TOKEN_URL, grant_type="client_credentials", timeout=10)
        with pytest.raises(AuthlibOAuthError) as refused:
            oauth.fetch_token(live_throttled["base"] + TOKEN_URL, grant_type="client_credentials", timeout=10)

    assert [a.status_code for a in answers] == [200, 429]
    assert answers[1].headers["Content-Type"] == "application/problem+json"
    assert answers[1].json()["code"] == "rate_limited"
    assert refused.value.error == "slow_down"
    assert refused.value.description.startswith("Too many requests; retry after ")


def test_a_json_token_request_over_http_then_a_protected_call(live):
    with requests.Session() as http:
        issued = http.post(live["base"] + TOKEN_URL, json=GRANT, auth=("cli_live", LIVE_SECRET), timeout=10)
        projects = http.get(
            f"{live['base']}/tenants/{live['tenant_id']}/projects",
            headers=bearer(issued.json()["access_token"]),
            timeout=10,
        )
        refused = http.post(live["base"] + TOKEN_URL, json=GRANT, auth=("cli_live", "nope"), timeout=10)

    assert issued.status_code == 200
    assert issued.headers["Cache-Control"] == "no-store"
    assert projects.status_code == 200
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == BASIC_CHALLENGE
    assert refused.json()["error"] == "invalid_client"


def test_the_client_list_shows_when_a_client_was_last_used(live):
    tenant = f"{live['base']}/tenants/{live['tenant_id']}"
    with requests.Session() as http:
        login = {"tenant": "acme", "username": "admin", "password": PASSWORD}
        admin = bearer(http.post(live["base"] + "/auth/login", json=login, timeout=10).json()["access_token"])
        (before,) = http.get(tenant + "/clients", headers=admin, timeout=10).json()["items"]
        token = http.post(live["base"] + TOKEN_URL, json=GRANT, auth=("cli_live", LIVE_SECRET), timeout=10)
        used = http.get(tenant + "/projects", headers=bearer(token.json()["access_token"]), timeout=10)
        (after,) = http.get(tenant + "/clients", headers=admin, timeout=10).json()["items"]

    assert used.status_code == 200
    assert before["last_used_at"] is None
    assert after["last_used_at"] is not None


def test_a_scope_of_only_spaces_is_invalid_scope_not_everything(client, db):
    from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory

    row = ClientFactory(scopes=["projects:read", "users:read"])

    response = client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": row.client_id,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "scope": "   ",
        },
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"
