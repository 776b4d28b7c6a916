"""`/tenants/{tid}/projects`: the sample resource."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag

from app.database import db_session
from app.projects import service
from app.projects.schemas import (
    ProjectCreate,
    ProjectListQuery,
    ProjectOut,
    ProjectPage,
    ProjectPath,
    ProjectUpdate,
)
from app.schemas import PROBLEM_RESPONSES, TenantPath, page_of
from policies import Ownership, Permission, current_principal, tenant_scoped

bp = APIBlueprint(
    "projects", __name__, url_prefix="/tenants/<uuid:tid>/projects", abp_tags=[Tag(name="projects")]
)

OWNED = Ownership(service.owner_of, Permission.PROJECTS_MANAGE)


def out(project: Any) -> dict[str, Any]:
    return ProjectOut.model_validate(project).model_dump(mode="json")


@bp.get("", responses={200: ProjectPage, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.PROJECTS_READ)
def list_projects(path: TenantPath, query: ProjectListQuery) -> dict[str, Any]:
    """The tenant's projects, oldest first, a page at a time."""
    items, next_cursor = service.list_projects(
        db_session(), path.tid, owner_id=query.owner_id, limit=query.limit, cursor=query.cursor
    )
    return page_of([out(p) for p in items], next_cursor)


@bp.post("", responses={201: ProjectOut, 409: None, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.PROJECTS_WRITE)
def create_project(path: TenantPath, body: ProjectCreate) -> tuple[dict[str, Any], int]:
    """Create a project owned by the caller."""
    return out(service.create_project(db_session(), path.tid, body.name, current_principal())), 201


@bp.get("/<uuid:pid>", responses={200: ProjectOut, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.PROJECTS_READ)
def get_project(path: ProjectPath) -> dict[str, Any]:
    """One project of the tenant."""
    return out(service.get_project(db_session(), path.tid, path.pid))


@bp.patch("/<uuid:pid>", responses={200: ProjectOut, 409: None, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.PROJECTS_WRITE, ownership=OWNED)
def rename_project(path: ProjectPath, body: ProjectUpdate) -> dict[str, Any]:
    """Rename a project: its owner, or a holder of projects:manage."""
    return out(service.rename_project(db_session(), path.tid, path.pid, body.name, current_principal()))


@bp.delete("/<uuid:pid>", responses={204: None, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.PROJECTS_WRITE, ownership=OWNED)
def delete_project(path: ProjectPath) -> tuple[str, int]:
    """Delete a project: its owner, or a holder of projects:manage."""
    service.delete_project(db_session(), path.tid, path.pid, current_principal())
    return "", 204
