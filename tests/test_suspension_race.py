"""Suspension is revocation, even for a login racing it (review finding 8).

The login reads the tenant (active), checks the password, and only then opens its session.
A suspension committing in between ends every session it can see, which does not include
the one about to be opened: without a lock, that session outlives the suspension and its
tokens work again after reactivation. Runs on a database that really commits, SQLite or
PostgreSQL.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.provisioning import builtin_role, create_tenant, create_user
from app.services import services
from models import Tenant
from policies import BuiltinRole
from tests.conftest import PASSWORD, bearer

SAFETY_TIMEOUT = 60  # seconds; only to fail instead of hanging


@pytest.fixture
def world(committing_app: Flask) -> Flask:
    app = committing_app
    hashed = services(app).passwords.hash(PASSWORD)
    with services(app).database.sessions() as session, session.begin():
        platform = create_tenant(session, "platform", "Platform")
        create_user(
            session,
            platform,
            "operator",
            hashed,
            roles=[builtin_role(session, platform, BuiltinRole.PLATFORM_ADMIN)],
        )
        acme = create_tenant(session, "acme", "Acme")
        create_user(session, acme, "alice", hashed, roles=[builtin_role(session, acme, BuiltinRole.ADMIN)])
    return app


def login(app: Flask, tenant: str, username: str) -> Any:
    return app.test_client().post(
        "/auth/login", json={"tenant": tenant, "username": username, "password": PASSWORD}
    )


def test_a_login_racing_a_suspension_leaves_no_session_alive_after_reactivation(world, monkeypatch):
    app = world
    operator = bearer(login(app, "platform", "operator").get_json()["access_token"])
    with services(app).database.sessions() as session:
        acme_id = session.scalars(select(Tenant.id).where(Tenant.slug == "acme")).one()
    passwords = services(app).passwords
    checked, release = threading.Event(), threading.Event()
    original = passwords.verify

    def verify_then_pause(stored, presented):
        matched = original(stored, presented)
        if presented == PASSWORD and threading.current_thread().name == "racing-login":
            checked.set()
            release.wait(SAFETY_TIMEOUT)
        return matched

    monkeypatch.setattr(passwords, "verify", verify_then_pause)
    answers: dict[str, Any] = {}
    racer = threading.Thread(
        target=lambda: answers.update(login=login(app, "acme", "alice")), name="racing-login"
    )
    racer.start()
    try:
        assert checked.wait(SAFETY_TIMEOUT), "the login never checked the password"
        api = app.test_client()
        suspended = api.patch(f"/tenants/{acme_id}", json={"status": "suspended"}, headers=operator)
    finally:
        release.set()
        racer.join(SAFETY_TIMEOUT)
    reactivated = app.test_client().patch(f"/tenants/{acme_id}", json={"status": "active"}, headers=operator)

    assert suspended.status_code == reactivated.status_code == 200
    raced = answers["login"]
    if raced.status_code == 200:  # the session was opened before the suspension committed
        me = app.test_client().get("/auth/me", headers=bearer(raced.get_json()["access_token"]))
        refreshed = app.test_client().post("/auth/refresh", headers=bearer(raced.get_json()["refresh_token"]))
        assert (me.status_code, refreshed.status_code) == (401, 401)
    else:
        # Like any login on a suspended tenant, whatever the password (no oracle).
        assert (raced.status_code, raced.get_json()["code"]) == (401, "invalid_credentials")
    assert login(app, "acme", "alice").status_code == 200
