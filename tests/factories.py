"""factory-boy factories, one per model; related objects through SubFactory.

`UserFactory(tenant=acme, admin=True)` reads as the situation it makes. Every factory uses
factory-boy's own `_create` (the model built from the declarations, added and flushed): a
related object is a parameter (`tenant`, `owner`, `user`) whose id fills the model's column.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from functools import cache
from typing import Any

import factory
from factory.alchemy import SQLAlchemyModelFactory
from flask import Flask
from sqlalchemy.orm import Session

from app.clients.service import hash_client_secret
from app.provisioning import add_builtin_roles, roles_by_name
from app.security.passwords import Passwords
from app.security.revocation import mark_revocation
from app.services import services
from models import (
    ApplicationPermission,
    Client,
    LoginSession,
    Project,
    Resource,
    Role,
    RolePermission,
    Tenant,
    User,
    UserRole,
    username_key,
    username_skeleton,
    utcnow,
)

DEFAULT_PASSWORD = "a-long-enough-test-password"
DEFAULT_CLIENT_SECRET = "a-test-client-secret-of-enough-entropy-0123456789"

_bound: dict[str, Any] = {}


def bind(session: Session, app: Flask) -> None:
    _bound["session"] = session
    _bound["passwords"] = services(app).passwords
    _bound["client_secret_key"] = services(app).client_secret_key


def unbind() -> None:
    _bound.clear()


def current_session() -> Session:
    return _bound["session"]


@cache
def _hash_cache(passwords: Passwords, password: str) -> str:
    # Hashing costs ~20 ms; one hash per distinct password keeps the suite fast.
    return passwords.hash(password)


def password_hash(password: str) -> str:
    return _hash_cache(_bound["passwords"], password)


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = current_session
        sqlalchemy_session_persistence = "flush"


class TenantFactory(BaseFactory):
    """A tenant with its built-in roles, as the API creates them."""

    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    status = "active"

    @factory.post_generation
    def builtin_roles(tenant: Tenant, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            add_builtin_roles(current_session(), tenant)


def _grants(permissions: Iterable[Any]) -> list[RolePermission]:
    return [RolePermission(permission=p) for p in sorted({str(p) for p in permissions})]


class RoleFactory(BaseFactory):
    """A custom role of `tenant` granting `permissions`."""

    class Meta:
        model = Role

    class Params:
        tenant = factory.SubFactory(TenantFactory)
        permissions: Any = ()

    tenant_id = factory.SelfAttribute("tenant.id")
    name = factory.Sequence(lambda n: f"role-{n}")
    description = ""
    grants = factory.LazyAttribute(lambda o: _grants(o.permissions))


def _memberships(tenant: Tenant, names: Iterable[Any]) -> list[UserRole]:
    wanted = [str(name) for name in names]
    found = roles_by_name(current_session(), tenant, wanted)
    missing = set(wanted) - set(found)
    if missing:
        raise ValueError(f"tenant {tenant.slug} has no roles {sorted(missing)}")
    return [UserRole(tenant_id=tenant.id, role_id=found[name].id, role=found[name]) for name in wanted]


class UserFactory(BaseFactory):
    """A user with roles given by name (built-in or the tenant's custom ones); `admin=True`
    makes the tenant's administrator."""

    class Meta:
        model = User

    class Params:
        password = DEFAULT_PASSWORD
        roles: Any = ("member",)
        admin = factory.Trait(roles=("admin",))

    tenant = factory.SubFactory(TenantFactory)
    username = factory.Sequence(lambda n: f"user{n}")
    username_key = factory.LazyAttribute(lambda o: username_key(o.username))
    username_skeleton = factory.LazyAttribute(lambda o: username_skeleton(o.username))
    email = None
    password_hash = factory.LazyAttribute(lambda o: password_hash(o.password))
    is_active = True
    memberships = factory.LazyAttribute(lambda o: _memberships(o.tenant, o.roles))


class ProjectFactory(BaseFactory):
    class Meta:
        model = Project

    class Params:
        tenant = factory.SubFactory(TenantFactory)
        owner = factory.SubFactory(UserFactory, tenant=factory.SelfAttribute("..tenant"))

    tenant_id = factory.SelfAttribute("tenant.id")
    name = factory.Sequence(lambda n: f"Project {n}")
    owner_id = factory.LazyAttribute(lambda o: o.owner.id if o.owner else None)


class LoginSessionFactory(BaseFactory):
    class Meta:
        model = LoginSession

    class Params:
        user = factory.SubFactory(UserFactory)

    tenant_id = factory.SelfAttribute("user.tenant_id")
    user_id = factory.SelfAttribute("user.id")
    refresh_jti = factory.LazyFunction(lambda: uuid.uuid4().hex)
    expires_at = factory.LazyFunction(lambda: utcnow() + timedelta(days=30))


class ClientFactory(BaseFactory):
    """An integration client whose secret is `secret` (DEFAULT_CLIENT_SECRET unless given),
    owned by `owner` (a new admin of its tenant unless given; None for an orphan)."""

    class Meta:
        model = Client
        rename = {"scope_names": "scopes"}

    class Params:
        tenant = factory.SubFactory(TenantFactory)
        scopes: Any = ("projects:read",)
        secret = DEFAULT_CLIENT_SECRET
        owner = factory.SubFactory(
            UserFactory,
            tenant=factory.SelfAttribute("..tenant"),
            roles=factory.LazyAttribute(
                lambda o: ["platform-admin"] if o.tenant.slug == "platform" else ["admin"]
            ),
        )

    tenant_id = factory.SelfAttribute("tenant.id")
    client_id = factory.Sequence(lambda n: f"cli_test_{n}")
    name = factory.Sequence(lambda n: f"Integration {n}")
    scope_names = factory.LazyAttribute(lambda o: [str(scope) for scope in o.scopes])
    secret_hash = factory.LazyAttribute(lambda o: hash_client_secret(o.secret, _bound["client_secret_key"]))
    created_by = factory.LazyAttribute(lambda o: o.owner.id if o.owner is not None else None)


class ApplicationPermissionFactory(BaseFactory):
    """An application permission, as `POST /permissions` defines it (the epoch bumped, so
    that a catalog cached by an earlier request of the test is reloaded)."""

    class Meta:
        model = ApplicationPermission

    name = factory.Sequence(lambda n: f"things{n}:do")
    description = ""
    owner_override = None
    member = False

    @factory.post_generation
    def revocation(row: ApplicationPermission, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            mark_revocation(current_session())


class ResourceFactory(BaseFactory):
    class Meta:
        model = Resource

    class Params:
        tenant = factory.SubFactory(TenantFactory)
        owner = None

    tenant_id = factory.SelfAttribute("tenant.id")
    type = "record"
    external_id = factory.Sequence(lambda n: f"record-{n}")
    owner_id = factory.LazyAttribute(lambda o: o.owner.id if o.owner else None)
    properties: Any = factory.LazyFunction(dict)
