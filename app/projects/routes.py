"""`/tenants/{tid}/projects`: the sample resource."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import g, request
from flask_openapi3 import APIBlueprint, Tag

from app.database import begin_for_writing, db_session
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
from models import Project
from policies import Ownership, Permission, current_principal, tenant_scoped

bp = APIBlueprint(
    "projects", __name__, url_prefix="/tenants/<uuid:tid>/projects", abp_tags=[Tag(name="projects")]
)

READS = frozenset({"GET", "HEAD", "OPTIONS"})


def path_project(tenant_id: uuid.UUID, project_id: uuid.UUID) -> Project:
    """The path's project, loaded once per request: the ownership check and the view share
    it. A write loads it in its write transaction (app.database.begin_for_writing), so that
    what the check saw is what the service changes."""
    session = db_session()
    loaded: Project | None = g.get("path_project")
    if loaded is None or loaded not in session or (loaded.tenant_id, loaded.id) != (tenant_id, project_id):
        if request.method not in READS:
            begin_for_writing(session)
        loaded = g.path_project = service.get_project(session, tenant_id, project_id)
    return loaded


def owner_of(tenant_id: uuid.UUID, view_args: Mapping[str, Any]) -> uuid.UUID | None:
    """The ownership loader: the owner of the path's project (a 404 when there is none)."""
    return path_project(tenant_id, view_args["pid"]).owner_id


OWNED = Ownership(owner_of, Permission.PROJECTS_MANAGE)


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
    project = path_project(path.tid, path.pid)
    return out(service.rename_project(db_session(), project, body.name, current_principal()))


@bp.delete("/<uuid:pid>", responses={204: None, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.PROJECTS_WRITE, ownership=OWNED)
def delete_project(path: ProjectPath) -> tuple[str, int]:
    """Delete a project: its owner, or a holder of projects:manage."""
    service.delete_project(db_session(), path_project(path.tid, path.pid), current_principal())
    return "", 204
