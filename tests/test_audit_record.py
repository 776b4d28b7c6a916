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
