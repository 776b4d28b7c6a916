"""The world every permission-matrix case runs in.

Tenants acme, globex and platform; one user per actor; and in acme, the targets of every
route: a project owned by a member who is none of the actors, another member (`target`),
a custom role, an integration client and an audit event. Path parameters name these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.audit import AuditAction, record
from policies import BUILTIN_ROLE_PERMISSIONS, BuiltinRole, Permission
from policies.catalog import PLATFORM_PERMISSIONS
from tests.factories import (
    DEFAULT_CLIENT_SECRET,
    ClientFactory,
    ProjectFactory,
    RoleFactory,
    TenantFactory,
    UserFactory,
    current_session,
)

TARGET_TENANT = "acme"


@dataclass(frozen=True)
class Actor:
    name: str
    tenant: str | None  # slug of the actor's tenant; None for anonymous
    role: BuiltinRole | None

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.role is None:
            return frozenset()
        granted = BUILTIN_ROLE_PERMISSIONS[self.role]
        return granted if self.tenant == "platform" else granted - PLATFORM_PERMISSIONS


ACTORS = [
    Actor("anonymous", None, None),
    Actor("acme-admin", "acme", BuiltinRole.ADMIN),
    Actor("acme-member", "acme", BuiltinRole.MEMBER),
    Actor("platform-admin", "platform", BuiltinRole.PLATFORM_ADMIN),
    Actor("globex-admin", "globex", BuiltinRole.ADMIN),
]


def build_world() -> dict[str, Any]:
    tenants = {slug: TenantFactory(slug=slug) for slug in ("acme", "globex", "platform")}
    acme = tenants["acme"]
    users = {
        actor.name: UserFactory(tenant=tenants[actor.tenant], username=actor.name, roles=[actor.role])
        for actor in ACTORS
        if actor.role is not None
    }
    owner = UserFactory(tenant=acme, username="owner", roles=["member"])
    target = UserFactory(tenant=acme, username="target", roles=["member"])
    role = RoleFactory(tenant=acme, name="reviewer", permissions=[Permission.PROJECTS_READ])
    client = ClientFactory(
        tenant=acme,
        client_id="matrix-client",
        name="CI",
        scopes=[Permission.PROJECTS_READ, Permission.TOKENS_INTROSPECT],
    )
    session = current_session()
    record(session, AuditAction.PROJECT_CREATED, tenant_id=acme.id, actor_id=owner.id)
    session.flush()
    return {
        "tenants": tenants,
        "users": users,
        "owner": owner,
        "target": target,
        "role": role,
        "client": client,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "project": ProjectFactory(tenant=acme, owner=owner),
    }


# Path parameter -> its value, given the world and the acting user's token claims.
PATH_VALUES: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any]] = {
    "tid": lambda world, claims: world["tenants"][TARGET_TENANT].id,
    "pid": lambda world, claims: world["project"].id,
    "uid": lambda world, claims: world["target"].id,
    "rid": lambda world, claims: world["role"].id,
    "cid": lambda world, claims: world["client"].id,
    "sid": lambda world, claims: claims.get("sid", "00000000-0000-0000-0000-000000000000"),
    "filename": lambda world, claims: "css/swagger-ui.css",
}
