"""`GET /permissions`: the permission catalog with descriptions."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel

from app.pagination import paginate_sorted
from app.schemas import PROBLEM_RESPONSES, PageQuery, page_of
from policies import authenticated
from policies.catalog import DESCRIPTIONS, Permission

bp = APIBlueprint("catalog", __name__, abp_tags=[Tag(name="permissions")])


class PermissionOut(BaseModel):
    name: str
    description: str
    platform_only: bool


class CatalogOut(BaseModel):
    items: list[PermissionOut]
    next_cursor: str | None


@bp.get("/permissions", responses={200: CatalogOut, **PROBLEM_RESPONSES})
@authenticated()
def list_permissions(query: PageQuery) -> dict[str, Any]:
    """Every permission of the catalog, with what it allows, by name, a page at a time."""
    items = [
        {"name": p.value, "description": DESCRIPTIONS[p], "platform_only": p.is_platform} for p in Permission
    ]
    items.sort(key=lambda item: item["name"])
    return page_of(*paginate_sorted(items, lambda item: item["name"], query.limit, query.cursor))
