"""Review finding 12 (suspected): a permission removed from a role while that role is being
assigned to a user who then logs in survives in that user's token.

The interleaving, on PostgreSQL (READ COMMITTED), with two admins:
  A: PATCH the role without projects:manage: deletes the grant, lists the role's holders
     (the user is not one yet), bumps their versions ... and has not committed yet;
  B: PUT the user's roles with that role: sees the grant still there (A is uncommitted),
     inserts the membership, bumps the user's version, commits;
  the user logs in: A is still uncommitted, so the token carries projects:manage;
  A commits: its holder list missed the user, so that token stays valid, grant and all.

The test pauses A right after it listed the holders and runs B and the login meanwhile.
When a fix makes B wait for A, the test sees B blocked on a lock and goes on.
SQLite serialises writers (BEGIN IMMEDIATE), so the race needs PostgreSQL, which CI runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

import app.roles.service as roles_service
from app import create_app
from app.provisioning import add_role, builtin_role, create_tenant, create_user
from app.services import services
from app.settings import Settings
from models import Role, Tenant, User
from policies import BuiltinRole, Permission
from tests.conftest import PASSWORD, bearer

SAFETY_TIMEOUT = 60  # seconds; only to fail instead of hanging if something deadlocks


@pytest.fixture
def pg_app(postgres_app: Flask, make_settings: Callable[..., Settings]) -> Iterator[Flask]:
    """The race holds a row lock for as long as it takes to run the other side: longer than
    the production bound on a lock wait (AUTHZ_DATABASE_TIMEOUT, 2 s) on a busy machine."""
    url = services(postgres_app).database.engine.url.render_as_string(hide_password=False)
    app = create_app(make_settings(database_url=url, database_timeout=30), TESTING=True)
    hashed = services(app).passwords.hash(PASSWORD)
    with services(app).database.sessions() as session, session.begin():
        acme = create_tenant(session, "acme", "Acme")
        admin, member = (builtin_role(session, acme, r) for r in (BuiltinRole.ADMIN, BuiltinRole.MEMBER))
        add_role(
            session,
            acme,
            "editor",
            [Permission.PROJECTS_READ, Permission.PROJECTS_WRITE, Permission.PROJECTS_MANAGE],
        )
        for name in ("alice", "boss"):
            create_user(session, acme, name, hashed, roles=[admin])
        create_user(session, acme, "dana", hashed, roles=[member])
    yield app
    services(app).database.engine.dispose()


def login(app: Flask, username: str) -> dict[str, Any]:
    response = app.test_client().post(
        "/auth/login", json={"tenant": "acme", "username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def waiting_on_a_lock(app: Flask) -> bool:
    """Whether a backend of this test's database waits for a row or transaction lock."""
    with services(app).database.engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def test_a_permission_removed_while_its_role_is_assigned_leaves_no_token_holding_it(pg_app, monkeypatch):
    engine = services(pg_app).database.engine
    with engine.connect() as connection:
        acme_id = connection.execute(select(Tenant.id).where(Tenant.slug == "acme")).scalar_one()
        dana_id = connection.execute(select(User.id).where(User.username == "dana")).scalar_one()
        editor_id = connection.execute(select(Role.id).where(Role.name == "editor")).scalar_one()
    alice, boss = (bearer(login(pg_app, name)["access_token"]) for name in ("alice", "boss"))

    a_listed_holders, release_a = threading.Event(), threading.Event()
    original = roles_service._holder_ids

    def list_then_pause(session, role):
        holders = original(session, role)
        a_listed_holders.set()
        release_a.wait(SAFETY_TIMEOUT)
        return holders

    monkeypatch.setattr(roles_service, "_holder_ids", list_then_pause)
    answers: dict[str, Any] = {}

    def edit_role() -> None:
        answers["edit"] = pg_app.test_client().patch(
            f"/tenants/{acme_id}/roles/{editor_id}",
            json={"permissions": ["projects:read", "projects:write"]},
            headers=alice,
        )

    def assign_role() -> None:
        answers["assign"] = pg_app.test_client().put(
            f"/tenants/{acme_id}/users/{dana_id}/roles", json={"roles": ["editor", "member"]}, headers=boss
        )

    def log_dana_in() -> None:
        answers["early"] = login(pg_app, "dana")

    a, b = threading.Thread(target=edit_role), threading.Thread(target=assign_role)
    c = threading.Thread(target=log_dana_in)
    a.start()
    try:
        assert a_listed_holders.wait(SAFETY_TIMEOUT), "the role edit never reached its holder list"
        b.start()
        deadline = time.monotonic() + SAFETY_TIMEOUT
        while b.is_alive() and not waiting_on_a_lock(pg_app):
            assert time.monotonic() < deadline, "the assignment neither finished nor waited for a lock"
            time.sleep(0.02)
        # dana logs in while the edit is still uncommitted. The assignment holds dana's row
        # (an idempotent PUT locks it), so the login may itself wait for the edit: it then
        # ends after the edit commits, which is no race at all. Give it time to try first.
        c.start()
        c.join(2)
    finally:
        release_a.set()
        a.join(SAFETY_TIMEOUT)
        if b.ident is not None:
            b.join(SAFETY_TIMEOUT)
        if c.ident is not None:
            c.join(SAFETY_TIMEOUT)
    early = answers["early"]

    assert answers["edit"].status_code == 200, answers["edit"].get_json()
    assert answers["assign"].status_code == 200, answers["assign"].get_json()
    me = pg_app.test_client().get("/auth/me", headers=bearer(early["access_token"]))
    if me.status_code == 200:
        assert "projects:manage" not in me.get_json()["permissions"]
    else:
        assert me.get_json()["code"] == "token_revoked"
    fresh = pg_app.test_client().get("/auth/me", headers=bearer(login(pg_app, "dana")["access_token"]))
    assert "editor" in fresh.get_json()["roles"]
    assert "projects:manage" not in fresh.get_json()["permissions"]
