"""Review finding 13: properties, not examples.

A hypothesis `RuleBasedStateMachine` drives the HTTP API (through the Flask test client)
across two tenants: random actors (users of either tenant, active or not, and integration
clients) create and edit roles, assign roles, create, deactivate and reactivate users,
create clients, narrow their scopes and re-own them, and read across tenant lines.

The machine keeps a model of what each successful answer changed, and nothing else.
After every step:
- the database equals the model: no refused or foreign request changed anything, and no
  permission appeared that a successful, justified change did not put there;
- each success was justified when it happened: the actor was of the target's tenant and
  held (in the model, now) every permission it granted or took over, so nobody holds a
  permission that no holder of it granted, directly, through a role or through a client;
- every tenant keeps an active admin;
- a client's effective scopes are its scopes that its owner holds now;
- every denial (403, and the 404 of another tenant) names an `access.denied` event.

Profiles (tests/hypothesis_profiles.py): `ci` has a fixed `max_examples` and no deadline.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog.effective import effective_scopes, role_permissions
from app.catalog.store import current_catalog
from models import AuditEvent, Client, Role, RolePermission, Tenant, User, UserRole
from policies import TENANT_PERMISSIONS, Permission
from tests.conftest import PASSWORD, bearer
from tests.factories import RoleFactory, TenantFactory, UserFactory

PERMISSIONS = sorted(str(p) for p in TENANT_PERMISSIONS)
NEW_PASSWORD = "a-password-for-new-users"
STAFF = ["clients:write", "roles:read", "roles:write", "users:read", "users:write"]


@dataclass
class ModelUser:
    tenant: uuid.UUID
    username: str
    password: str
    active: bool
    roles: set[str]


@dataclass
class ModelRole:
    id: uuid.UUID
    permissions: frozenset[str]
    builtin: bool


@dataclass
class ModelClient:
    tenant: uuid.UUID
    client_id: str
    secret: str
    name: str
    scopes: frozenset[str]
    owner: uuid.UUID | None
    revoked: bool = False


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "client"
    id: uuid.UUID


@dataclass
class Step:
    """What a step asked and what it got, for the invariants' messages."""

    log: list[str] = field(default_factory=list)


class AccessMachine(RuleBasedStateMachine):
    app: Flask
    db: Session
    api: FlaskClient
    seen: Counter[tuple[str, int]] = Counter()

    def __init__(self) -> None:
        super().__init__()
        self.tenants: list[uuid.UUID] = []
        self.users: dict[uuid.UUID, ModelUser] = {}
        self.roles: dict[tuple[uuid.UUID, str], ModelRole] = {}
        self.clients: dict[uuid.UUID, ModelClient] = {}
        self.tokens: dict[Actor, str] = {}
        for _ in range(2):
            tenant = TenantFactory(slug=f"pbt-{uuid.uuid4().hex[:12]}")
            self.tenants.append(tenant.id)
            catalog = current_catalog(self.db)
            for role in self.db.scalars(select(Role).where(Role.tenant_id == tenant.id)):
                # Built-in roles hold what the catalog derives for them, not rows of their own.
                derived = role_permissions(role, catalog, in_platform_tenant=False)
                self.roles[(tenant.id, role.name)] = ModelRole(role.id, derived, True)
            # A colleague with some administrative power but not all: where escalation is tried.
            staff = RoleFactory(tenant=tenant, name="staff", permissions=STAFF)
            self.roles[(tenant.id, "staff")] = ModelRole(staff.id, frozenset(STAFF), False)
            for roles in (["admin"], ["member"], ["staff"]):
                user = UserFactory(tenant=tenant, roles=roles)
                self.users[user.id] = ModelUser(tenant.id, user.username, PASSWORD, True, set(roles))

    # --- the model's view of who holds what -------------------------------------------------

    def user_permissions(self, user_id: uuid.UUID | None) -> frozenset[str] | None:
        user = self.users.get(user_id) if user_id else None
        if user is None or not user.active:
            return None
        return frozenset().union(*(self.roles[(user.tenant, name)].permissions for name in user.roles))

    def client_permissions(self, client: ModelClient) -> frozenset[str] | None:
        held = self.user_permissions(client.owner)
        return None if held is None or client.revoked else client.scopes & held

    def actor_permissions(self, actor: Actor) -> frozenset[str]:
        if actor.kind == "user":
            return self.user_permissions(actor.id) or frozenset()
        return self.client_permissions(self.clients[actor.id]) or frozenset()

    def actor_tenant(self, actor: Actor) -> uuid.UUID:
        return self.users[actor.id].tenant if actor.kind == "user" else self.clients[actor.id].tenant

    # --- drawing --------------------------------------------------------------------------

    def draw_actor(self, data: st.DataObject) -> Actor:
        actors = [Actor("user", uid) for uid in self.users] + [
            Actor("client", cid) for cid, c in self.clients.items() if not c.revoked
        ]
        return data.draw(st.sampled_from(actors), label="actor")

    def draw_tenant(self, data: st.DataObject, actor: Actor) -> uuid.UUID:
        """Mostly the actor's own tenant (where changes can succeed), sometimes the other."""
        own = self.actor_tenant(actor)
        other = next(t for t in self.tenants if t != own)
        return data.draw(st.sampled_from([own, own, own, other]), label="tenant")

    def draw_user(self, data: st.DataObject, actor: Actor) -> uuid.UUID:
        tenant = self.draw_tenant(data, actor)
        # Insertion order, never ids (random per run): hypothesis replays draws against the same order.
        return data.draw(
            st.sampled_from([u for u in self.users if self.users[u].tenant == tenant]), label="user"
        )

    def draw_permissions(self, data: st.DataObject, pool: list[str], label: str) -> list[str]:
        return (
            data.draw(st.lists(st.sampled_from(pool), unique=True, max_size=5), label=label) if pool else []
        )

    # --- talking to the API ---------------------------------------------------------------

    def token(self, actor: Actor, *, fresh: bool = False) -> str | None:
        if not fresh and actor in self.tokens:
            return self.tokens[actor]
        if actor.kind == "user":
            user = self.users[actor.id]
            slug = self.db.scalar(select(Tenant.slug).where(Tenant.id == user.tenant))
            response = self.api.post(
                "/auth/login", json={"tenant": slug, "username": user.username, "password": user.password}
            )
            assert response.status_code in (200, 401), response.get_json()
            token = response.get_json().get("access_token") if response.status_code == 200 else None
        else:
            client = self.clients[actor.id]
            response = self.api.post(
                "/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client.client_id,
                    "client_secret": client.secret,
                },
            )
            assert response.status_code in (200, 400, 401), response.get_json()
            token = response.get_json().get("access_token") if response.status_code == 200 else None
        if token is None:
            self.tokens.pop(actor, None)
        else:
            self.tokens[actor] = token
        return token

    def call(self, actor: Actor, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        """The answer to `actor`'s request, or None when the actor cannot get a token at all
        (a deactivated user, an orphaned client). A revoked token is renewed once."""
        token = self.token(actor)
        if token is None:
            return None
        response = self.api.open(url, method=method, json=body, headers=bearer(token))
        if response.status_code == 401:
            token = self.token(actor, fresh=True)
            if token is None:
                return None
            response = self.api.open(url, method=method, json=body, headers=bearer(token))
        self.check_answer(actor, url, response)
        event(f"{method} {response.status_code}")
        AccessMachine.seen[(method, response.status_code)] += 1
        return response

    def check_answer(self, actor: Actor, url: str, response: Any) -> None:
        assert response.status_code < 500, response.get_data(as_text=True)
        foreign = str(self.actor_tenant(actor)) not in url
        if response.status_code == 403 or (response.status_code == 404 and foreign):
            problem = response.get_json()
            assert "decision_id" in problem, f"an unaudited denial: {problem}"
            action = self.db.scalar(
                select(AuditEvent.action).where(AuditEvent.id == uuid.UUID(problem["decision_id"]))
            )
            assert action == "access.denied", problem

    def justified(self, actor: Actor, tenant: uuid.UUID, granted: set[str] | frozenset[str]) -> None:
        """A success: the actor was of the tenant and held all that it granted or took over."""
        assert self.actor_tenant(actor) == tenant, "an actor changed another tenant"
        missing = set(granted) - self.actor_permissions(actor)
        assert not missing, f"{actor} granted what it does not hold: {sorted(missing)}"

    # --- rules ----------------------------------------------------------------------------

    @rule(data=st.data())
    def create_role(self, data: st.DataObject) -> None:
        actor = self.draw_actor(data)
        tenant = self.draw_tenant(data, actor)
        permissions = self.draw_permissions(data, PERMISSIONS, "permissions")
        name = f"r-{uuid.uuid4().hex[:8]}"
        response = self.call(
            actor, "POST", f"/tenants/{tenant}/roles", {"name": name, "permissions": permissions}
        )
        if response is not None and response.status_code == 201:
            self.justified(actor, tenant, {*permissions, Permission.ROLES_WRITE})
            self.roles[(tenant, name)] = ModelRole(
                uuid.UUID(response.get_json()["id"]), frozenset(permissions), False
            )

    @rule(data=st.data())
    def edit_role(self, data: st.DataObject) -> None:
        custom = [key for key, role in self.roles.items() if not role.builtin]
        if not custom:
            return
        actor = self.draw_actor(data)
        tenant, name = data.draw(st.sampled_from(custom), label="role")
        role = self.roles[(tenant, name)]
        permissions = self.draw_permissions(data, PERMISSIONS, "permissions")
        response = self.call(
            actor, "PATCH", f"/tenants/{tenant}/roles/{role.id}", {"permissions": permissions}
        )
        if response is not None and response.status_code == 200:
            self.justified(actor, tenant, {*permissions, *role.permissions, Permission.ROLES_WRITE})
            role.permissions = frozenset(permissions)

    @rule(data=st.data())
    def assign_roles(self, data: st.DataObject) -> None:
        actor = self.draw_actor(data)
        target_id = self.draw_user(data, actor)
        target = self.users[target_id]
        names = [name for tenant, name in self.roles if tenant == target.tenant]
        wanted = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=3), label="roles")
        response = self.call(
            actor, "PUT", f"/tenants/{target.tenant}/users/{target_id}/roles", {"roles": wanted}
        )
        if response is not None and response.status_code == 200:
            assert actor != Actor("user", target_id), "a user changed their own roles"
            granted = {p for name in wanted for p in self.roles[(target.tenant, name)].permissions}
            self.justified(actor, target.tenant, granted | (self.user_permissions(target_id) or frozenset()))
            self.justified(actor, target.tenant, {Permission.USERS_WRITE})
            target.roles = set(wanted)

    @rule(data=st.data())
    def create_user(self, data: st.DataObject) -> None:
        actor = self.draw_actor(data)
        tenant = self.draw_tenant(data, actor)
        names = [name for t, name in self.roles if t == tenant]
        wanted = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=2), label="roles")
        username = f"u-{uuid.uuid4().hex[:8]}"
        body = {"username": username, "password": NEW_PASSWORD, "roles": wanted}
        response = self.call(actor, "POST", f"/tenants/{tenant}/users", body)
        if response is not None and response.status_code == 201:
            granted = {p for name in wanted for p in self.roles[(tenant, name)].permissions}
            self.justified(actor, tenant, granted | {Permission.USERS_WRITE})
            self.users[uuid.UUID(response.get_json()["id"])] = ModelUser(
                tenant, username, NEW_PASSWORD, True, set(wanted)
            )

    @rule(data=st.data(), active=st.booleans())
    def set_active(self, data: st.DataObject, active: bool) -> None:
        actor = self.draw_actor(data)
        target_id = self.draw_user(data, actor)
        target = self.users[target_id]
        response = self.call(
            actor, "PATCH", f"/tenants/{target.tenant}/users/{target_id}", {"is_active": active}
        )
        if response is not None and response.status_code == 200:
            held = self.user_permissions(target_id) or frozenset()
            self.justified(actor, target.tenant, held | {Permission.USERS_WRITE})
            target.active = active

    @rule(data=st.data())
    def create_client(self, data: st.DataObject) -> None:
        actor = self.draw_actor(data)
        tenant = self.draw_tenant(data, actor)
        scopes = self.draw_permissions(data, PERMISSIONS, "scopes")
        response = self.call(actor, "POST", f"/tenants/{tenant}/clients", {"name": "pbt", "scopes": scopes})
        if response is not None and response.status_code == 201:
            self.justified(actor, tenant, {*scopes, Permission.CLIENTS_WRITE})
            body = response.get_json()
            owner = actor.id if actor.kind == "user" else self.clients[actor.id].owner
            assert body["created_by"] == (str(owner) if owner else None)
            self.clients[uuid.UUID(body["id"])] = ModelClient(
                tenant, body["client_id"], body["client_secret"], "pbt", frozenset(scopes), owner
            )

    @rule(data=st.data())
    def edit_client(self, data: st.DataObject) -> None:
        live = [cid for cid, c in self.clients.items() if not c.revoked]
        if not live:
            return
        actor = self.draw_actor(data)
        client_uuid = data.draw(st.sampled_from(live), label="client")
        client = self.clients[client_uuid]
        change = data.draw(st.sampled_from(["owner", "scopes", "name"]), label="change")
        if change == "owner":
            body: dict[str, Any] = {"owner_id": str(self.draw_user(data, actor))}
        elif change == "scopes":
            body = {"scopes": self.draw_permissions(data, sorted(client.scopes), "scopes")}
        else:
            body = {"name": "renamed"}
        response = self.call(actor, "PATCH", f"/tenants/{client.tenant}/clients/{client_uuid}", body)
        if response is not None and response.status_code == 200:
            self.justified(actor, client.tenant, client.scopes | {Permission.CLIENTS_WRITE})
            if change == "owner":
                owner = uuid.UUID(body["owner_id"])
                assert self.users[owner].tenant == client.tenant
                assert self.users[owner].active
                client.owner = owner
            elif change == "scopes":
                client.scopes = frozenset(body["scopes"])
            else:
                client.name = "renamed"

    @rule(data=st.data())
    def revoke_client(self, data: st.DataObject) -> None:
        live = [cid for cid, c in self.clients.items() if not c.revoked]
        if not live:
            return
        actor = self.draw_actor(data)
        client_uuid = data.draw(st.sampled_from(live), label="client")
        client = self.clients[client_uuid]
        response = self.call(actor, "DELETE", f"/tenants/{client.tenant}/clients/{client_uuid}")
        if response is not None and response.status_code == 204:
            self.justified(actor, client.tenant, client.scopes | {Permission.CLIENTS_WRITE})
            client.revoked = True

    @rule(data=st.data())
    def read_a_user(self, data: st.DataObject) -> None:
        actor = self.draw_actor(data)
        target_id = self.draw_user(data, actor)
        target = self.users[target_id]
        response = self.call(actor, "GET", f"/tenants/{target.tenant}/users/{target_id}")
        if response is not None and response.status_code == 200:
            self.justified(actor, target.tenant, {Permission.USERS_READ})

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def the_database_is_the_model(self) -> None:
        for tenant in self.tenants:
            users = {
                row.id: (row.is_active, row.username)
                for row in self.db.execute(
                    select(User.id, User.is_active, User.username).where(User.tenant_id == tenant)
                )
            }
            assert users == {
                uid: (u.active, u.username) for uid, u in self.users.items() if u.tenant == tenant
            }
            memberships: dict[uuid.UUID, set[str]] = {uid: set() for uid in users}
            for user_id, name in self.db.execute(
                select(UserRole.user_id, Role.name)
                .join(Role, Role.id == UserRole.role_id)
                .where(Role.tenant_id == tenant)
            ):
                memberships[user_id].add(name)
            assert memberships == {uid: u.roles for uid, u in self.users.items() if u.tenant == tenant}
            grants: dict[str, set[str]] = {}
            for name, permission in self.db.execute(
                select(Role.name, RolePermission.permission)
                .outerjoin(RolePermission, RolePermission.role_id == Role.id)
                .where(Role.tenant_id == tenant)
            ):
                grants.setdefault(name, set()).update({permission} if permission else set())
            # Built-in roles keep no grant rows: the catalog derives what they hold.
            assert grants == {
                n: set() if r.builtin else set(r.permissions)
                for (t, n), r in self.roles.items()
                if t == tenant
            }
            clients = {
                row.id: (frozenset(row.scopes), row.created_by, row.revoked_at is not None, row.name)
                for row in self.db.execute(select(Client).where(Client.tenant_id == tenant)).scalars()
            }
            assert clients == {
                cid: (c.scopes, c.owner, c.revoked, c.name)
                for cid, c in self.clients.items()
                if c.tenant == tenant
            }

    @invariant()
    def every_tenant_keeps_an_active_admin(self) -> None:
        for tenant in self.tenants:
            admins = self.db.scalar(
                select(func.count())
                .select_from(UserRole)
                .join(Role, Role.id == UserRole.role_id)
                .join(User, User.id == UserRole.user_id)
                .where(Role.tenant_id == tenant, Role.name == "admin", User.is_active.is_(True))
            )
            assert admins >= 1

    @invariant()
    def a_client_holds_what_its_owner_holds_now(self) -> None:
        for cid, model in self.clients.items():
            if model.revoked:
                continue
            row = self.db.execute(select(Client, Tenant).join(Tenant).where(Client.id == cid)).one()
            self.db.refresh(row.Client)
            assert effective_scopes(self.db, row.Client, row.Tenant) == self.client_permissions(model)


def test_access_control_holds_for_any_sequence_of_changes(app, db, client):
    AccessMachine.app, AccessMachine.db, AccessMachine.api = app, db, client
    AccessMachine.seen = Counter()

    run_state_machine_as_test(AccessMachine)

    # The run explored both sides: changes that went through and changes refused.
    seen = AccessMachine.seen
    print(sorted(seen.items()))
    assert sum(n for (_, status), n in seen.items() if status < 300) > 0, seen
    assert seen[("POST", 403)] + seen[("PUT", 403)] + seen[("PATCH", 403)] > 0, seen
    assert sum(n for (_, status), n in seen.items() if status == 404) > 0, seen


def test_ci_runs_the_machine_under_the_fixed_ci_profile():
    # CI is .ci/run, whoever starts it: the profile must not depend on a CI variable being set.
    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    before_the_tests = script[: script.index(".venv/bin/pytest")]
    ci = settings.get_profile("ci")

    assert re.search(r"^export HYPOTHESIS_PROFILE=ci$", before_the_tests, re.MULTILINE)
    assert (ci.max_examples, ci.derandomize, ci.deadline) == (15, True, None)
