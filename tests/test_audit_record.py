"""`record()` takes the tenant and the target from a model; without one, the tenant is named."""

from __future__ import annotations

import pytest

from app.audit import AUDIT_TARGETS, AuditAction, record
from models import Client, LoginSession, Project, Resource, Role, Tenant, User
from tests.factories import LoginSessionFactory, ProjectFactory, TenantFactory


def test_a_target_gives_the_tenant_type_and_id(db):
    project = ProjectFactory()
    event = record(db, AuditAction.PROJECT_UPDATED, target=project, details={"k": "v"})
    assert (event.tenant_id, event.target_type, event.target_id) == (
        project.tenant_id,
        "project",
        str(project.id),
    )
    assert event.details == {"k": "v"}


def test_a_tenant_is_its_own_tenant(db):
    tenant = TenantFactory()
    event = record(db, AuditAction.TENANT_UPDATED, target=tenant)
    assert (event.tenant_id, event.target_type, event.target_id) == (tenant.id, "tenant", str(tenant.id))


def test_a_login_session_is_a_session(db):
    login_session = LoginSessionFactory()
    event = record(db, AuditAction.LOGOUT, target=login_session)
    assert (event.tenant_id, event.target_type) == (login_session.tenant_id, "session")


def test_every_audited_model_has_its_name():
    assert set(AUDIT_TARGETS) == {Client, LoginSession, Project, Resource, Role, Tenant, User}


def test_a_target_and_an_explicit_tenant_do_not_mix(db):
    project = ProjectFactory()
    with pytest.raises(TypeError, match="not both"):
        record(db, AuditAction.PROJECT_UPDATED, target=project, tenant_id=project.tenant_id)
    with pytest.raises(TypeError, match="not both"):
        record(db, AuditAction.PROJECT_UPDATED, target=project, target_id="x")


def test_without_a_target_the_tenant_must_be_named(db):
    with pytest.raises(TypeError, match="tenant_id"):
        record(db, AuditAction.PERMISSION_CREATED)
    event = record(
        db, AuditAction.PERMISSION_CREATED, tenant_id=None, target_type="permission", target_id="a:b"
    )
    assert (event.tenant_id, event.target_type, event.target_id) == (None, "permission", "a:b")


def test_an_event_alone_commits_on_its_own_in_a_real_request(committing_app):
    """record_alone on a request's session (autocommit reads): the issued and the refused
    token are each one committed row, seen from another connection, and logged."""
    import base64

    from sqlalchemy import func, select

    from app.database import unit_of_work
    from app.provisioning import builtin_role, create_tenant, create_user
    from app.services import services
    from models import AuditEvent
    from policies import BuiltinRole
    from tests.conftest import PASSWORD, bearer

    database = services(committing_app).database
    with committing_app.app_context():
        session = database.sessions()
        with unit_of_work(session):
            tenant = create_tenant(session, "alone", "Alone")
            admin = builtin_role(session, tenant, BuiltinRole.ADMIN)
            create_user(session, tenant, "ada", services().passwords.hash(PASSWORD), roles=[admin])
            tenant_id = tenant.id
        session.close()
    api = committing_app.test_client()
    token = api.post("/auth/login", json={"tenant": "alone", "username": "ada", "password": PASSWORD})
    created = api.post(
        f"/tenants/{tenant_id}/clients",
        json={"name": "integration", "scopes": ["projects:read"]},
        headers=bearer(token.get_json()["access_token"]),
    ).get_json()

    def token_request(secret: str):
        basic = base64.b64encode(f"{created['client_id']}:{secret}".encode()).decode()
        return api.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )

    assert token_request(created["client_secret"]).status_code == 200
    assert token_request("a-wrong-secret").status_code == 401

    with database.engine.connect() as other:
        counts = dict(
            other.execute(
                select(AuditEvent.action, func.count())
                .where(AuditEvent.action.in_(["client.token.issued", "client.token.refused"]))
                .group_by(AuditEvent.action)
            ).all()
        )
    assert counts == {"client.token.issued": 1, "client.token.refused": 1}
