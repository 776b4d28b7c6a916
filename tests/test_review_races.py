"""Review: races that end in a 500.

`replace_roles` resolves the role names, then inserts the memberships; a role deleted by a
concurrent request in between makes the insert violate the user_roles → roles foreign key,
and the IntegrityError escapes as a 500. `create_user` meets the very same race with a 409
(flush_or_conflict, ROLES_CHANGED_CONCURRENTLY); `replace_roles` does not.

SQLite serialises writers (BEGIN IMMEDIATE), so the race needs PostgreSQL, which CI runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, delete, select, text

import app.users.service as users_service
from app import create_app
from app.database import EXTENSION as DATABASE
from app.provisioning import add_role, builtin_role, create_tenant, create_user
from app.security import PASSWORDS
from models import Role, Tenant, User
from policies import BuiltinRole, Permission
from tests.conftest import PASSWORD, bearer
from tests.databases import fresh_database, upgrade


def _postgres_server() -> str | None:
    url = os.environ.get("AUTHZ_TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    if not url.startswith("postgresql"):
        return None
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:
        return None
    return url


@pytest.fixture
def pg_app(tmp_path, make_settings, monkeypatch) -> Iterator[Flask]:
    server = _postgres_server()
    if server is None:
        pytest.skip("needs a PostgreSQL server")
    monkeypatch.setenv("AUTHZ_TEST_DATABASE_URL", server)
    with fresh_database(tmp_path, "review_race") as url:
        upgrade(url)
        app = create_app(make_settings(database_url=url), TESTING=True)
        hashed = app.extensions[PASSWORDS].hash(PASSWORD)
        with app.extensions[DATABASE].sessions() as session, session.begin():
            acme = create_tenant(session, "acme", "Acme")
            admin, member = (builtin_role(session, acme, r) for r in (BuiltinRole.ADMIN, BuiltinRole.MEMBER))
            add_role(session, acme, "reviewer", [Permission.PROJECTS_READ])
            create_user(session, acme, "alice", hashed, roles=[admin])
            create_user(session, acme, "bob", hashed, roles=[member])
        yield app
        app.extensions[DATABASE].engine.dispose()


def test_a_role_deleted_while_it_is_being_assigned_is_a_409_not_a_500(pg_app, monkeypatch):
    api = pg_app.test_client()
    token = api.post("/auth/login", json={"tenant": "acme", "username": "alice", "password": PASSWORD})
    headers = bearer(token.get_json()["access_token"])
    engine = pg_app.extensions[DATABASE].engine
    with engine.connect() as connection:
        acme_id = connection.execute(select(Tenant.id).where(Tenant.slug == "acme")).scalar_one()
        bob_id = connection.execute(select(User.id).where(User.username == "bob")).scalar_one()

    original = users_service._ensure_grantable

    def grant_then_lose_the_race(actor, tenant, roles):
        original(actor, tenant, roles)
        with engine.begin() as other_request:  # another admin deletes the role meanwhile
            other_request.execute(delete(Role).where(Role.tenant_id == acme_id, Role.name == "reviewer"))

    monkeypatch.setattr(users_service, "_ensure_grantable", grant_then_lose_the_race)

    response = api.put(
        f"/tenants/{acme_id}/users/{bob_id}/roles", json={"roles": ["member", "reviewer"]}, headers=headers
    )

    assert response.status_code == 409, response.get_data(as_text=True)
