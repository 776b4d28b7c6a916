"""Projects: the sample resource, with ownership rules enforced by the policy layer."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import AuditAction, record
from app.database import flush_or_conflict, unit_of_work
from app.pagination import paginate
from app.scoping import get_in_tenant
from models import Project
from policies.principal import Principal, PrincipalKind

DUPLICATE_NAME = "A project with this name already exists in the tenant."


def get_project(session: Session, tenant_id: uuid.UUID, project_id: uuid.UUID) -> Project:
    return get_in_tenant(session, Project, tenant_id, project_id)


def list_projects(
    session: Session, tenant_id: uuid.UUID, *, owner_id: uuid.UUID | None, limit: int, cursor: str | None
) -> tuple[list[Project], str | None]:
    stmt = select(Project).where(Project.tenant_id == tenant_id)
    if owner_id is not None:
        stmt = stmt.where(Project.owner_id == owner_id)
    return paginate(session, stmt, Project, limit, cursor)


def create_project(session: Session, tenant_id: uuid.UUID, name: str, actor: Principal) -> Project:
    # The creator owns the project when they belong to the tenant (a platform operator
    # creating one elsewhere leaves it unowned, for the tenant's admins to manage).
    owner = actor.subject_uuid if actor.kind is PrincipalKind.USER and actor.tenant_id == tenant_id else None
    with unit_of_work(session):
        project = Project(tenant_id=tenant_id, name=name, owner_id=owner)
        session.add(project)
        flush_or_conflict(session, DUPLICATE_NAME)
        record(session, AuditAction.PROJECT_CREATED, actor, target=project)
    return project


def rename_project(session: Session, project: Project, name: str, actor: Principal) -> Project:
    """Rename `project`, loaded by the caller through the tenant door (`get_project`)."""
    with unit_of_work(session):
        old_name, project.name = project.name, name
        flush_or_conflict(session, DUPLICATE_NAME)
        record(
            session,
            AuditAction.PROJECT_UPDATED,
            actor,
            target=project,
            details={"name": {"from": old_name, "to": name}},
        )
    return project


def delete_project(session: Session, project: Project, actor: Principal) -> None:
    """Delete `project`, loaded by the caller through the tenant door (`get_project`)."""
    with unit_of_work(session):
        session.delete(project)
        record(session, AuditAction.PROJECT_DELETED, actor, target=project, details={"name": project.name})
