"""`/permissions`: the permission catalog (built-in and application permissions)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask_openapi3 import APIBlueprint, Tag

from app.catalog import service
from app.catalog.schemas import (
    CatalogOut,
    CatalogQuery,
    PermissionCreate,
    PermissionOut,
    PermissionPath,
    PermissionUpdate,
)
from app.cursors import decode_key_cursor, encode_key_cursor
from app.database import db_session
from app.partial import sent
from app.schemas import PROBLEM_RESPONSES, ProblemOut, page_of
from policies import Permission, authenticated, current_principal, require

bp = APIBlueprint("catalog", __name__, abp_tags=[Tag(name="permissions")])


def out(entry: service.CatalogEntry) -> dict[str, Any]:
    return asdict(entry)


@bp.get("/permissions", responses={200: CatalogOut, **PROBLEM_RESPONSES})
@authenticated()
def list_permissions(query: CatalogQuery) -> dict[str, Any]:
    """Every permission of the catalog, built-in and application ones, by name, with what it allows."""
    after = decode_key_cursor(query.cursor) if query.cursor else None
    items, last = service.list_catalog(db_session(), limit=query.limit, after=after)
    return page_of([out(e) for e in items], encode_key_cursor(last) if last else None)


@bp.post("/permissions", responses={201: PermissionOut, 409: ProblemOut, **PROBLEM_RESPONSES})
@require(Permission.PLATFORM_WRITE)
def create_permission(body: PermissionCreate) -> tuple[dict[str, Any], int]:
    """Define an application permission, shared by every tenant (platform operators)."""
    session = db_session()
    service.create_permission(
        session,
        current_principal(),
        name=body.name,
        description=body.description,
        owner_override=body.owner_override,
        member=body.member,
    )
    return out(service.get_entry(session, body.name)), 201


@bp.patch("/permissions/<name>", responses={200: PermissionOut, 409: ProblemOut, **PROBLEM_RESPONSES})
@require(Permission.PLATFORM_WRITE)
def update_permission(path: PermissionPath, body: PermissionUpdate) -> dict[str, Any]:
    """Describe an application permission, change its owner override or `member`; built-in: 409."""
    session = db_session()
    service.update_permission(session, current_principal(), path.name, **sent(body))
    return out(service.get_entry(session, path.name))


@bp.delete("/permissions/<name>", responses={204: None, 409: ProblemOut, **PROBLEM_RESPONSES})
@require(Permission.PLATFORM_WRITE)
def delete_permission(path: PermissionPath) -> tuple[str, int]:
    """Remove an application permission from the catalog, every role and every client scope;
    tokens carrying it lose it on their next request. Built-in ones: 409."""
    service.delete_permission(db_session(), current_principal(), path.name)
    return "", 204
