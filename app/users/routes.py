"""`/tenants/{tid}/users`: the tenant's users and their roles."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag

from app.database import db_session
from app.partial import sent
from app.schemas import PROBLEM_RESPONSES, TenantPath, page_of
from app.security import passwords
from app.users import service
from app.users.schemas import RolesReplace, UserCreate, UserListQuery, UserOut, UserPage, UserPath, UserUpdate
from policies import Permission, current_principal, tenant_scoped

bp = APIBlueprint("users", __name__, url_prefix="/tenants/<uuid:tid>/users", abp_tags=[Tag(name="users")])


def out(user: Any) -> dict[str, Any]:
    return UserOut.of(user).model_dump(mode="json")


@bp.get("", responses={200: UserPage, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.USERS_READ)
def list_users(path: TenantPath, query: UserListQuery) -> dict[str, Any]:
    """The tenant's users, oldest first, a page at a time; filter by `q`, `role`, `is_active`."""
    session = db_session()
    items, next_cursor = service.list_users(
        session,
        path.tid,
        q=query.q,
        role=query.role,
        is_active=query.is_active,
        limit=query.limit,
        cursor=query.cursor,
    )
    return page_of([out(user) for user in items], next_cursor)


@bp.post("", responses={201: UserOut, 409: None, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.USERS_WRITE)
def create_user(path: TenantPath, body: UserCreate) -> tuple[dict[str, Any], int]:
    """Create a user; granting roles needs every permission they carry."""
    user = service.create_user(
        db_session(),
        passwords(),
        path.tid,
        current_principal(),
        username=body.username,
        password=body.password,
        email=body.email,
        roles=body.roles,
    )
    return out(user), 201


@bp.get("/<uuid:uid>", responses={200: UserOut, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.USERS_READ)
def get_user(path: UserPath) -> dict[str, Any]:
    """One user of the tenant."""
    return out(service.get_user(db_session(), path.tid, path.uid))


@bp.patch("/<uuid:uid>", responses={200: UserOut, 409: None, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.USERS_WRITE)
def update_user(path: UserPath, body: UserUpdate) -> dict[str, Any]:
    """Change `email`, `is_active` or `password`; deactivation and a new password end the
    user's sessions at once."""
    user = service.update_user(
        db_session(),
        passwords(),
        path.tid,
        path.uid,
        current_principal(),
        **sent(body),
    )
    return out(user)


@bp.delete("/<uuid:uid>", responses={204: None, 409: None, **PROBLEM_RESPONSES})
@tenant_scoped(Permission.USERS_WRITE)
def delete_user(path: UserPath) -> tuple[str, int]:
    """Delete a user, with their memberships and sessions."""
    service.delete_user(db_session(), path.tid, path.uid, current_principal())
    return "", 204


@bp.put(
    "/<uuid:uid>/roles",
    responses={200: UserOut, 409: None, **PROBLEM_RESPONSES},
    operation_id="replaceUserRoles",
)
@tenant_scoped(Permission.USERS_WRITE)
def replace_roles(path: UserPath, body: RolesReplace) -> dict[str, Any]:
    """Replace the user's roles (never one's own); needs every permission they carry.
    The user's access tokens stop working at once."""
    user = service.replace_roles(db_session(), path.tid, path.uid, current_principal(), body.roles)
    return out(user)
