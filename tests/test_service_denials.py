"""Review finding 2: a denial raised inside a service (the grant guards, the takeover guard,
one's own roles, a client's scopes) is audited in a transaction of its own, which the
unit of work's rollback does not take with it, and its 403 carries the `decision_id` of
that event, exactly like a denial of the route's policy."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, select

from app.provisioning import add_role, builtin_role, create_tenant, create_user
from app.services import services
from models import AuditEvent, Role, Tenant
from policies import BuiltinRole, Permission
from tests.conftest import PASSWORD, bearer
from tests.factories import RoleFactory, UserFactory


@pytest.fixture
def staffer(acme):
    """Manages users, roles and clients, but holds little else."""
    role = RoleFactory(
        tenant=acme,
        name="staff",
        permissions=["users:read", "users:write", "roles:read", "roles:write", "clients:write"],
    )
    return UserFactory(tenant=acme, roles=[role.name])


def denial_event(db, response):
    problem = response.get_json()
    assert response.status_code == 403, problem
    assert problem["code"] == "permission_denied"
    event = db.get(AuditEvent, uuid.UUID(problem["decision_id"]))
    assert event is not None, "the denial's decision_id names no audit event"
    assert (event.action, event.outcome) == ("access.denied", "denied")
    return problem, event


def test_a_role_granting_what_the_creator_lacks(client, db, acme, staffer, auth_headers):
    response = client.post(
        f"/tenants/{acme.id}/roles",
        json={"name": "auditor", "permissions": ["audit:read"]},
        headers=auth_headers(staffer),
    )

    problem, event = denial_event(db, response)
    assert event.actor_id == str(staffer.id)
    assert event.tenant_id == acme.id
    assert event.details["required_permissions"] == problem["required_permissions"] == ["audit:read"]
    assert event.details["route"] == "/tenants/<uuid:tid>/roles"
    assert db.scalars(select(Role).where(Role.name == "auditor")).first() is None


def test_taking_over_a_stronger_user(client, db, acme, admin, staffer, auth_headers):
    response = client.patch(
        f"/tenants/{acme.id}/users/{admin.id}",
        json={"password": "a-new-password-for-admin"},
        headers=auth_headers(staffer),
    )

    problem, event = denial_event(db, response)
    assert "audit:read" in problem["required_permissions"]
    assert event.details["required_permissions"] == problem["required_permissions"]


def test_assigning_a_role_carrying_what_the_assigner_lacks(client, db, acme, staffer, auth_headers):
    bob = UserFactory(tenant=acme, roles=["member"])

    response = client.put(
        f"/tenants/{acme.id}/users/{bob.id}/roles", json={"roles": ["admin"]}, headers=auth_headers(staffer)
    )

    denial_event(db, response)
    db.refresh(bob)
    assert bob.role_names == ["member"]


def test_changing_ones_own_roles(client, db, acme, admin, auth_headers):
    response = client.put(
        f"/tenants/{acme.id}/users/{admin.id}/roles", json={"roles": ["member"]}, headers=auth_headers(admin)
    )

    denial_event(db, response)


def test_a_client_with_scopes_the_creator_lacks(client, db, acme, staffer, auth_headers):
    response = client.post(
        f"/tenants/{acme.id}/clients",
        json={"name": "Escalator", "scopes": ["projects:manage"]},
        headers=auth_headers(staffer),
    )

    problem, _ = denial_event(db, response)
    assert problem["required_permissions"] == ["projects:manage"]


def test_deleting_a_role_carrying_what_the_deleter_lacks(client, db, acme, staffer, auth_headers):
    strong = RoleFactory(tenant=acme, name="strong", permissions=["audit:read"])

    response = client.delete(f"/tenants/{acme.id}/roles/{strong.id}", headers=auth_headers(staffer))

    denial_event(db, response)
    assert db.get(Role, strong.id) is not None


def test_route_and_service_denials_are_counted_alike(client, db, acme, staffer, auth_headers):
    from app.metrics import DENIALS

    route = "/tenants/<uuid:tid>/roles"
    before = DENIALS.labels(route, "403")._value.get()

    client.post(
        f"/tenants/{acme.id}/roles",
        json={"name": "x", "permissions": ["audit:read"]},
        headers=auth_headers(staffer),
    )

    assert DENIALS.labels(route, "403")._value.get() == before + 1


def test_the_denial_commits_while_the_refused_change_rolls_back(postgres_or_sqlite_committing_app):
    """On a database that really commits: another connection sees the denial and no role."""
    app, url = postgres_or_sqlite_committing_app
    api = app.test_client()
    login = api.post("/auth/login", json={"tenant": "acme", "username": "staffer", "password": PASSWORD})
    headers = bearer(login.get_json()["access_token"])
    with services(app).database.sessions() as session:
        acme_id = session.scalars(select(Tenant.id).where(Tenant.slug == "acme")).one()

    response = api.post(
        f"/tenants/{acme_id}/roles", json={"name": "auditor", "permissions": ["audit:read"]}, headers=headers
    )

    assert response.status_code == 403
    engine = create_engine(url)
    try:
        with engine.connect() as other:
            decision = uuid.UUID(response.get_json()["decision_id"])
            action = other.execute(select(AuditEvent.action).where(AuditEvent.id == decision)).scalar_one()
            roles = other.execute(select(Role.name).where(Role.tenant_id == acme_id)).scalars().all()
    finally:
        engine.dispose()
    assert action == "access.denied"
    assert "auditor" not in roles


@pytest.fixture
def postgres_or_sqlite_committing_app(committing_app):
    app = committing_app
    hashed = services(app).passwords.hash(PASSWORD)
    with services(app).database.sessions() as session, session.begin():
        acme = create_tenant(session, "acme", "Acme")
        staff = add_role(
            session, acme, "staff", [Permission.ROLES_WRITE, Permission.ROLES_READ, Permission.USERS_READ]
        )
        create_user(
            session, acme, "staffer", hashed, roles=[staff, builtin_role(session, acme, BuiltinRole.MEMBER)]
        )
    return app, str(services(app).database.engine.url.render_as_string(hide_password=False))
