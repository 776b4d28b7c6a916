"""A user's own sessions, and changing one's password (API.md: /auth/sessions, /auth/password)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from models import AuditEvent
from tests.conftest import PASSWORD, bearer
from tests.factories import TenantFactory, UserFactory


@pytest.fixture
def bob(db):
    return UserFactory(tenant=TenantFactory(slug="acme"), username="bob")


def test_sessions_lists_own_open_sessions_and_marks_the_current_one(client, bob, login):
    laptop, phone = login(bob), login(bob)
    UserFactory(tenant=bob.tenant, username="alice")  # someone else's sessions stay invisible
    login(UserFactory(tenant=bob.tenant))

    items = client.get("/auth/sessions", headers=bearer(laptop["access_token"])).get_json()["items"]

    assert len(items) == 2
    assert [item["current"] for item in items].count(True) == 1
    assert {"id", "created_at", "expires_at", "user_agent", "ip_address"} <= set(items[0])
    del phone


def test_ending_a_session_revokes_its_tokens_at_once(client, bob, login):
    laptop, phone = login(bob), login(bob)
    sessions = client.get("/auth/sessions", headers=bearer(laptop["access_token"])).get_json()["items"]
    phone_session = next(s["id"] for s in sessions if not s["current"])

    ended = client.delete(f"/auth/sessions/{phone_session}", headers=bearer(laptop["access_token"]))

    assert ended.status_code == 204
    refused = client.get("/auth/me", headers=bearer(phone["access_token"]))
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "token_revoked"
    assert client.post("/auth/refresh", headers=bearer(phone["refresh_token"])).status_code == 401
    assert client.get("/auth/me", headers=bearer(laptop["access_token"])).status_code == 200


def test_another_users_session_is_a_404(client, bob, login):
    alice = UserFactory(tenant=bob.tenant)
    alice_tokens, bob_tokens = login(alice), login(bob)
    alice_session = client.get("/auth/sessions", headers=bearer(alice_tokens["access_token"])).get_json()[
        "items"
    ][0]

    response = client.delete(
        f"/auth/sessions/{alice_session['id']}", headers=bearer(bob_tokens["access_token"])
    )

    assert response.status_code == 404
    assert client.get("/auth/me", headers=bearer(alice_tokens["access_token"])).status_code == 200


def test_a_missing_session_is_a_404(client, bob, login):
    response = client.delete(f"/auth/sessions/{uuid.uuid4()}", headers=bearer(login(bob)["access_token"]))

    assert response.status_code == 404


def test_password_change_ends_the_other_sessions_only(client, db, bob, login):
    here, elsewhere = login(bob), login(bob)

    response = client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "another-long-password"},
        headers=bearer(here["access_token"]),
    )

    assert response.status_code == 204
    assert client.get("/auth/me", headers=bearer(here["access_token"])).status_code == 200
    assert (
        client.get("/auth/me", headers=bearer(elsewhere["access_token"])).get_json()["code"]
        == "token_revoked"
    )
    assert login(bob, "another-long-password")["access_token"]
    old = client.post("/auth/login", json={"tenant": "acme", "username": "bob", "password": PASSWORD})
    assert old.status_code == 401
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.password.changed")).one()
    assert event.details == {"other_sessions_ended": 1}


def test_password_change_needs_the_current_password(client, bob, login):
    response = client.post(
        "/auth/password",
        json={"current_password": "not-the-password", "new_password": "another-long-password"},
        headers=bearer(login(bob)["access_token"]),
    )

    assert response.status_code == 403
    assert response.get_json()["code"] == "invalid_credentials"


@pytest.mark.parametrize("new_password", ["short", "x" * 1025], ids=["too short", "too long"])
def test_password_change_refuses_bad_lengths_naming_the_field(client, bob, login, new_password):
    response = client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=bearer(login(bob)["access_token"]),
    )

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "new_password"
    assert new_password not in response.get_data(as_text=True)


def test_a_client_token_has_no_session_to_log_out_or_list(client, db):
    from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory

    row = ClientFactory()
    token = client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": row.client_id,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
    ).get_json()["access_token"]

    assert client.post("/auth/logout", headers=bearer(token)).status_code == 403
    assert client.get("/auth/sessions", headers=bearer(token)).status_code == 403
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200


def _session_events(db, action: str) -> list[tuple]:
    rows = db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
    return [(e.tenant_id, e.actor_id, e.target_type, e.target_id) for e in rows]


def test_each_way_a_session_ends_is_audited_with_its_tenant_and_session(client, db, bob, login):
    """One helper ends a session, marks the revocation and records it (logout, ending one's
    own session); someone else's session is a 404 that records nothing."""
    first, second = login(bob), login(bob)
    sessions = client.get("/auth/sessions", headers=bearer(first["access_token"])).get_json()["items"]
    other = next(s["id"] for s in sessions if not s["current"])
    intruder = UserFactory(tenant=bob.tenant)

    assert (
        client.delete(f"/auth/sessions/{other}", headers=bearer(login(intruder)["access_token"])).status_code
        == 404
    )
    assert _session_events(db, "auth.session.revoked") == []
    assert client.delete(f"/auth/sessions/{other}", headers=bearer(first["access_token"])).status_code == 204
    assert client.post("/auth/logout", headers=bearer(first["access_token"])).status_code == 204

    expected = (bob.tenant_id, str(bob.id), "session")
    assert [e[:3] for e in _session_events(db, "auth.session.revoked")] == [expected]
    assert _session_events(db, "auth.session.revoked")[0][3] == other
    assert [e[:3] for e in _session_events(db, "auth.logout")] == [expected]
    assert client.get("/auth/me", headers=bearer(second["access_token"])).status_code == 401
