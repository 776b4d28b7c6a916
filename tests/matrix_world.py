"""The world every permission-matrix case runs in.

Tenants acme, globex and platform; one user per actor; and in acme, the targets of every
route: a project owned by a member who is none of the actors, another member (`target`),
a custom role, an integration client and an audit event. Path parameters name these.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from flask import Flask

from app import create_app
from app.audit import AuditAction, record
from app.openapi_document import PATH_PARAMETER
from app.services import services
from app.settings import Settings
from policies import BUILTIN_ROLE_PERMISSIONS, BuiltinRole, Permission
from policies.catalog import PLATFORM_PERMISSIONS
from policies.principal import PrincipalKind
from tests.factories import (
    DEFAULT_CLIENT_SECRET,
    ApplicationPermissionFactory,
    ClientFactory,
    ProjectFactory,
    ResourceFactory,
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
    scopes: frozenset[Permission] | None = None  # an integration client's, instead of a role

    @property
    def kind(self) -> PrincipalKind | None:
        if self.scopes is not None:
            return PrincipalKind.CLIENT
        return PrincipalKind.USER if self.role is not None else None

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.scopes is not None:
            return self.scopes
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
    Actor(
        "acme-client",
        "acme",
        None,
        scopes=frozenset(
            {
                Permission.PROJECTS_READ,
                Permission.PROJECTS_WRITE,
                Permission.USERS_READ,
                Permission.RESOURCES_READ,
                Permission.DECISIONS_EVALUATE,
                Permission.TOKENS_INTROSPECT,
            }
        ),
    ),
]


def build_world() -> dict[str, Any]:
    tenants = {slug: TenantFactory(slug=slug) for slug in ("acme", "globex", "platform")}
    acme = tenants["acme"]
    users = {
        actor.name: UserFactory(tenant=tenants[actor.tenant], username=actor.name, roles=[actor.role])
        for actor in ACTORS
        if actor.role is not None
    }
    clients = {
        actor.name: ClientFactory(
            tenant=acme, client_id=actor.name, name=actor.name, scopes=sorted(actor.scopes)
        )
        for actor in ACTORS
        if actor.scopes is not None
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
    ApplicationPermissionFactory(name="matrix:thing")
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-1")
    session = current_session()
    record(session, AuditAction.PROJECT_CREATED, tenant_id=acme.id, actor_id=owner.id)
    session.flush()
    return {
        "tenants": tenants,
        "users": users,
        "clients": clients,
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
    "name": lambda world, claims: "matrix:thing",
    "type": lambda world, claims: "invoices",
    "resource_id": lambda world, claims: "inv-1",
}


def verified_claims(app: Any, access_token: str) -> dict[str, Any]:
    """The claims of one of our test tokens, verified with the app's active key."""
    key = services(app).key_ring.active
    return jwt.decode(
        access_token,
        key.verification_material,
        [key.algorithm],
        issuer="https://authz.test",
        audience="https://authz.test",
    )


def signed_claims(app: Any, token: str) -> dict[str, Any]:
    """The claims of a token this app signed, its signature checked with the app's active key
    and algorithm; the audience is left to the caller's assertions (access and refresh
    tokens carry different ones)."""
    key = services(app).key_ring.active
    return jwt.decode(token, key.verification_material, [key.algorithm], options={"verify_aud": False})


def routes_app() -> Flask:
    """An app built only to read its routes at collection time: every secret is given and
    the database is in memory, so nothing is written anywhere."""
    return create_app(
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url="sqlite://",
            jwt_algorithm="HS256",
            secret_key="x" * 48,
            client_secret_key="y" * 48,
        )
    )


def url_of(rule: str, world: dict[str, Any], claims: dict[str, Any]) -> str:
    """A route's rule with each path parameter filled from the world (PATH_VALUES)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in PATH_VALUES, f"add a value for the path parameter <{name}> to PATH_VALUES"
        return str(PATH_VALUES[name](world, claims))

    return PATH_PARAMETER.sub(value, rule)
