"""JSON logs and request ids (API.md "Conventions", "Running it"; issue 18, item 8)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import AuditEvent
from tests.conftest import PASSWORD
from tests.factories import ProjectFactory, TenantFactory, UserFactory
from tests.logcapture import captured_log


def test_a_valid_request_id_is_echoed(client, db):
    response = client.get("/healthz", headers={"X-Request-ID": "trace-7f3a:edge/1"})

    assert response.headers["X-Request-ID"] == "trace-7f3a:edge/1"


@pytest.mark.parametrize(
    "offered", ["", "x" * 129, "has space", "caf\u00e9", "tab\there", "new\nline"], ids=repr
)
def test_an_invalid_request_id_is_replaced(client, db, offered):
    response = client.get("/healthz", headers={"X-Request-ID": offered} if "\n" not in offered else {})

    assert response.headers["X-Request-ID"] != offered
    assert 1 <= len(response.headers["X-Request-ID"]) <= 128


def test_the_longest_valid_request_id_is_kept(client, db):
    offered = "~" * 128
    assert client.get("/healthz", headers={"X-Request-ID": offered}).headers["X-Request-ID"] == offered


def test_every_response_carries_a_request_id_problems_included(client, db):
    answers = [
        client.get("/healthz"),
        client.get("/no/such/route"),  # 404 problem
        client.get("/auth/me"),  # 401 problem
        client.post("/auth/login", data="not json", content_type="text/plain"),  # 415 problem
        client.delete("/healthz"),  # 405 problem
    ]

    ids = [answer.headers.get("X-Request-ID") for answer in answers]
    assert all(ids)
    assert len(set(ids)) == len(ids)


def test_the_audit_events_of_a_request_carry_its_id(client, db):
    user = UserFactory()
    body = {"tenant": user.tenant.slug, "username": user.username, "password": PASSWORD}

    client.post("/auth/login", json=body, headers={"X-Request-ID": "login-req-1"})

    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login.succeeded")).one()
    assert event.request_id == "login-req-1"


def test_a_request_logs_one_json_line_with_its_id_route_status_and_principal(client, db, auth_headers):
    acme = TenantFactory()
    bob = UserFactory(tenant=acme, roles=["member"])
    headers = {**auth_headers(bob), "X-Request-ID": "list-req-1"}

    with captured_log() as log:
        client.get(f"/tenants/{acme.id}/projects", headers=headers)

    [line] = [line for line in log.lines() if line["event"] == "request"]
    assert line["request_id"] == "list-req-1"
    assert line["method"] == "GET"
    assert line["route"] == "/tenants/<uuid:tid>/projects"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["tenant_id"] == str(acme.id)
    assert line["subject_id"] == str(bob.id)
    assert {"time", "level", "logger"} <= set(line)


def test_security_events_are_logged_with_the_request_id(client, db, auth_headers):
    acme = TenantFactory()
    bob = UserFactory(tenant=acme, roles=["member"])
    project = ProjectFactory(tenant=acme)
    headers = {**auth_headers(bob), "X-Request-ID": "denied-req-1"}
    wrong = {"tenant": acme.slug, "username": bob.username, "password": "not-" + PASSWORD}

    with captured_log() as log:
        client.delete(f"/tenants/{acme.id}/projects/{project.id}", headers=headers)  # 403, audited
        client.post("/auth/login", json=wrong, headers={"X-Request-ID": "bad-login-1"})

    events = {line["event"]: line for line in log.lines() if line["logger"] == "authz.security"}
    assert events["access.denied"]["request_id"] == "denied-req-1"
    assert events["access.denied"]["outcome"] == "denied"
    assert events["auth.login.failed"]["request_id"] == "bad-login-1"


def test_an_unhandled_error_is_one_json_line_and_the_client_sees_no_trace(app, db):
    with captured_log() as log, app.test_request_context("/x", headers={"X-Request-ID": "err-1"}):
        app.preprocess_request()
        response = app.process_response(app.handle_user_exception(RuntimeError("boom")))

    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "err-1"
    assert b"boom" not in response.get_data()
    [error] = [line for line in log.lines() if line["level"] == "ERROR"]
    assert error["request_id"] == "err-1"
    assert "RuntimeError: boom" in error["exc_info"]
