"""Review: races that end in a 500.

`replace_roles` resolves the role names, then inserts the memberships; a role deleted by a
concurrent request in between makes the insert violate the user_roles → roles foreign key,
and the IntegrityError escapes as a 500. `create_user` meets the very same race with a 409
(flush_or_conflict, ROLES_CHANGED_CONCURRENTLY); `replace_roles` does not.

SQLite serialises writers (BEGIN IMMEDIATE), so the race needs PostgreSQL, which CI runs.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import delete, select

import app.users.service as users_service
from app.provisioning import add_role, builtin_role, create_tenant, create_user
from app.services import services
from models import Role, Tenant, User
from policies import BuiltinRole, Permission
from tests.conftest import PASSWORD, bearer


@pytest.fixture
def pg_app(postgres_app: Flask) -> Flask:
    app = postgres_app
    hashed = services(app).passwords.hash(PASSWORD)
    with services(app).database.sessions() as session, session.begin():
        acme = create_tenant(session, "acme", "Acme")
        admin, member = (builtin_role(session, acme, r) for r in (BuiltinRole.ADMIN, BuiltinRole.MEMBER))
        add_role(session, acme, "reviewer", [Permission.PROJECTS_READ])
        create_user(session, acme, "alice", hashed, roles=[admin])
        create_user(session, acme, "bob", hashed, roles=[member])
    return app


def test_a_role_deleted_while_it_is_being_assigned_is_a_409_not_a_500(pg_app, monkeypatch):
    api = pg_app.test_client()
    token = api.post("/auth/login", json={"tenant": "acme", "username": "alice", "password": PASSWORD})
    headers = bearer(token.get_json()["access_token"])
    engine = services(pg_app).database.engine
    with engine.connect() as connection:
        acme_id = connection.execute(select(Tenant.id).where(Tenant.slug == "acme")).scalar_one()
        bob_id = connection.execute(select(User.id).where(User.username == "bob")).scalar_one()

    original = users_service._ensure_grantable

    def grant_then_lose_the_race(session, actor, tenant, roles):
        original(session, actor, tenant, roles)
        with engine.begin() as other_request:  # another admin deletes the role meanwhile
            other_request.execute(delete(Role).where(Role.tenant_id == acme_id, Role.name == "reviewer"))

    monkeypatch.setattr(users_service, "_ensure_grantable", grant_then_lose_the_race)

    response = api.put(
        f"/tenants/{acme_id}/users/{bob_id}/roles", json={"roles": ["member", "reviewer"]}, headers=headers
    )

    assert response.status_code == 409, response.get_data(as_text=True)


def test_the_same_roles_put_twice_at_once_are_both_200(pg_app):
    """A PUT is idempotent: two identical requests racing must not turn one into a 409."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    api = pg_app.test_client()
    token = api.post("/auth/login", json={"tenant": "acme", "username": "alice", "password": PASSWORD})
    headers = bearer(token.get_json()["access_token"])
    engine = services(pg_app).database.engine
    with engine.connect() as connection:
        acme_id = connection.execute(select(Tenant.id).where(Tenant.slug == "acme")).scalar_one()
        bob_id = connection.execute(select(User.id).where(User.username == "bob")).scalar_one()
    start = threading.Barrier(2)

    def put_roles(_: int) -> tuple[int, list[str]]:
        client = pg_app.test_client()
        start.wait()
        response = client.put(
            f"/tenants/{acme_id}/users/{bob_id}/roles",
            json={"roles": ["member", "reviewer"]},
            headers=headers,
        )
        return response.status_code, response.get_json().get("roles", [])

    for _ in range(3):  # the race is narrow; several rounds, each from bob's old roles
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "DELETE FROM user_roles WHERE user_id = %(u)s AND role_id IN "
                "(SELECT id FROM roles WHERE name = 'reviewer')",
                {"u": bob_id},
            )
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(put_roles, range(2)))

        assert outcomes == [(200, ["member", "reviewer"])] * 2
