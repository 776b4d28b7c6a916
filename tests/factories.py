"""factory-boy factories, one per model; related objects through SubFactory.

`UserFactory(tenant=acme, roles=["admin"])` reads as the situation it makes.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import cache
from typing import Any

import factory
from factory.alchemy import SQLAlchemyModelFactory
from flask import Flask
from sqlalchemy.orm import Session

from app.clients.service import hash_client_secret
from app.provisioning import add_role, create_tenant, create_user, roles_by_name
from app.security.passwords import Passwords
from app.security.revocation import mark_revocation
from app.services import services
from models import ApplicationPermission, Client, LoginSession, Project, Resource, Role, Tenant, User, utcnow

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

    @classmethod
    def _create(cls, model_class: type[Tenant], *args: Any, **kwargs: Any) -> Tenant:
        session = current_session()
        tenant = create_tenant(session, kwargs["slug"], kwargs["name"])
        tenant.status = kwargs.get("status", "active")
        session.flush()
        return tenant


class RoleFactory(BaseFactory):
    class Meta:
        model = Role

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"role-{n}")
    description = ""
    permissions: Any = ()

    @classmethod
    def _create(cls, model_class: type[Role], *args: Any, **kwargs: Any) -> Role:
        return add_role(
            current_session(),
            kwargs["tenant"],
            kwargs["name"],
            [str(p) for p in kwargs["permissions"]],
            description=kwargs["description"],
        )


class UserFactory(BaseFactory):
    """A user with roles given by name (built-in or the tenant's custom ones)."""

    class Meta:
        model = User

    tenant = factory.SubFactory(TenantFactory)
    username = factory.Sequence(lambda n: f"user{n}")
    password = DEFAULT_PASSWORD
    roles: Any = ("member",)
    email = None
    is_active = True

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        session = current_session()
        tenant = kwargs["tenant"]
        wanted = [str(r) for r in kwargs["roles"]]
        found = roles_by_name(session, tenant, wanted)
        missing = set(wanted) - set(found)
        if missing:
            raise ValueError(f"tenant {tenant.slug} has no roles {sorted(missing)}")
        user = create_user(
            session,
            tenant,
            kwargs["username"],
            password_hash(kwargs["password"]),
            roles=[found[name] for name in wanted],
            email=kwargs["email"],
        )
        user.is_active = kwargs["is_active"]
        session.flush()
        return user


class ProjectFactory(BaseFactory):
    class Meta:
        model = Project

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Project {n}")
    owner = factory.SubFactory(UserFactory, tenant=factory.SelfAttribute("..tenant"))

    @classmethod
    def _create(cls, model_class: type[Project], *args: Any, **kwargs: Any) -> Project:
        owner = kwargs.pop("owner")
        tenant = kwargs.pop("tenant")
        project = Project(tenant_id=tenant.id, owner_id=owner.id if owner else None, **kwargs)
        session = current_session()
        session.add(project)
        session.flush()
        return project


class LoginSessionFactory(BaseFactory):
    class Meta:
        model = LoginSession

    user = factory.SubFactory(UserFactory)
    refresh_jti = factory.LazyFunction(lambda: uuid.uuid4().hex)
    expires_at = factory.LazyFunction(lambda: utcnow() + timedelta(days=30))

    @classmethod
    def _create(cls, model_class: type[LoginSession], *args: Any, **kwargs: Any) -> LoginSession:
        user = kwargs.pop("user")
        login_session = LoginSession(tenant_id=user.tenant_id, user_id=user.id, **kwargs)
        session = current_session()
        session.add(login_session)
        session.flush()
        return login_session


class ClientFactory(BaseFactory):
    """An integration client whose secret is `secret` (DEFAULT_CLIENT_SECRET unless given),
    owned by `owner` (a new admin of its tenant unless given; None for an orphan)."""

    class Meta:
        model = Client

    tenant = factory.SubFactory(TenantFactory)
    client_id = factory.Sequence(lambda n: f"cli_test_{n}")
    name = factory.Sequence(lambda n: f"Integration {n}")
    scopes: Any = ("projects:read",)
    secret = DEFAULT_CLIENT_SECRET
    owner = factory.SubFactory(
        UserFactory,
        tenant=factory.SelfAttribute("..tenant"),
        roles=factory.LazyAttribute(
            lambda o: ["platform-admin"] if o.tenant.slug == "platform" else ["admin"]
        ),
    )

    @classmethod
    def _create(cls, model_class: type[Client], *args: Any, **kwargs: Any) -> Client:
        owner = kwargs["owner"]
        client = Client(
            tenant_id=kwargs["tenant"].id,
            client_id=kwargs["client_id"],
            name=kwargs["name"],
            scopes=[str(scope) for scope in kwargs["scopes"]],
            secret_hash=hash_client_secret(kwargs["secret"], _bound["client_secret_key"]),
            created_by=owner.id if owner is not None else None,
        )
        session = current_session()
        session.add(client)
        session.flush()
        return client


class ApplicationPermissionFactory(BaseFactory):
    """An application permission, as `POST /permissions` defines it (the epoch bumped, so
    that a catalog cached by an earlier request of the test is reloaded)."""

    class Meta:
        model = ApplicationPermission

    name = factory.Sequence(lambda n: f"things{n}:do")
    description = ""
    owner_override = None
    member = False

    @classmethod
    def _create(cls, model_class: type[ApplicationPermission], *args: Any, **kwargs: Any) -> Any:
        session = current_session()
        row = ApplicationPermission(**kwargs)
        session.add(row)
        session.flush()
        mark_revocation(session)
        return row


class ResourceFactory(BaseFactory):
    class Meta:
        model = Resource

    tenant = factory.SubFactory(TenantFactory)
    type = "record"
    external_id = factory.Sequence(lambda n: f"record-{n}")
    owner = None
    properties: Any = factory.LazyFunction(dict)

    @classmethod
    def _create(cls, model_class: type[Resource], *args: Any, **kwargs: Any) -> Resource:
        owner = kwargs.pop("owner")
        tenant = kwargs.pop("tenant")
        resource = Resource(tenant_id=tenant.id, owner_id=owner.id if owner else None, **kwargs)
        session = current_session()
        session.add(resource)
        session.flush()
        return resource
