"""SQL per request on the hot paths of issue #19 stays constant as data grows: the token
endpoint, login, refresh, introspection, decisions (one and a batch), the AuthZEN searches,
and a users page whose users hold many roles (tests/test_query_counts.py has the first ones).

Each test counts a request's statements with little data, grows the data (users, roles per
user, permissions, tenants, clients, resources, batch items) and counts the same request
again. A difference fails naming the path and every count; where the cost is known, an exact
bound says what each statement is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import insert

from app.security.revocation import mark_revocation
from app.services import services
from models import (
    ApplicationPermission,
    Client,
    Project,
    Resource,
    Role,
    RolePermission,
    Tenant,
    User,
    UserRole,
    utcnow,
)
from policies.catalog import TENANT_PERMISSIONS
from tests import bulk
from tests.conftest import PASSWORD, bearer
from tests.factories import (
    DEFAULT_CLIENT_SECRET,
    ApplicationPermissionFactory,
    ClientFactory,
    ProjectFactory,
    ResourceFactory,
    RoleFactory,
    TenantFactory,
    UserFactory,
)
from tests.test_query_counts import bulk_fill

LARGE = 1000
APP_PERMISSIONS = 100  # application permissions added to the catalog when the data grows
# Permissions each bulk role grants: several, so that roles x grants rows grow too.
GRANTS = ("projects:read", "projects:write", "users:read", "roles:read", "tenant:read")


# ------------------------------------------------------------------------------ counting


@dataclass(frozen=True)
class Cost:
    count: int
    statements: tuple[str, ...]


def cost_of(client, count_queries, method: str, url: str, *, status: int = 200, **kwargs: Any):
    """The statements of one request (the caller warmed it up before), and its response."""
    with count_queries.counting():
        response = client.open(url, method=method, **kwargs)
    assert response.status_code == status, (method, url, response.get_json())
    return Cost(count_queries.count, tuple(count_queries.statements)), response


def assert_constant(path: str, costs: dict[str, Cost], *, at_most: int | None = None) -> None:
    """Every measurement of `path` costs the same number of statements (and no more than
    `at_most`); the message names the path, each measurement and the statements of the dearest."""
    counts = {label: c.count for label, c in costs.items()}
    dearest = max(costs.values(), key=lambda c: c.count)
    shown = "\n".join(f"  {s.strip()[:160]}" for s in dearest.statements)
    summary = ", ".join(f"{n} with {label}" for label, n in counts.items())
    assert len(set(counts.values())) == 1, f"{path}: SQL statements per request grew: {summary}\n{shown}"
    if at_most is not None:
        assert dearest.count <= at_most, f"{path}: {summary}, more than {at_most}\n{shown}"


# ------------------------------------------------------------------------------ growing


def hold(db, tenant: Tenant, users: Iterable[uuid.UUID], roles: Sequence[uuid.UUID]) -> None:
    """Every one of `users` holds every one of `roles` (bulk)."""
    now = utcnow()
    rows = [
        {"tenant_id": tenant.id, "user_id": u, "role_id": r, "created_at": now} for u in users for r in roles
    ]
    db.execute(insert(UserRole), rows)


def clients(db, tenant: Tenant, owner: User, count: int, scopes: Sequence[str] = ("projects:read",)) -> None:
    """`count` live clients of the tenant owned by `owner` (their secret verifies nothing)."""
    now = utcnow()
    db.execute(
        insert(Client),
        [
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant.id,
                "client_id": f"cli_bulk_{uuid.uuid4().hex}",
                "name": f"bulk client {i}",
                "secret_hash": "x",
                "scopes": list(scopes),
                "created_by": owner.id,
                "created_at": now,
                "authz_version": 1,
            }
            for i in range(count)
        ],
    )


def resources(
    db,
    tenant: Tenant,
    type_: str,
    count: int,
    owners: Sequence[uuid.UUID | None] = (None,),
    *,
    start: int = 0,
) -> None:
    """Registered resources `<type>-bulk-<n>` for n from `start`, owned in turn by each of `owners`."""
    now = utcnow()
    db.execute(
        insert(Resource),
        [
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant.id,
                "type": type_,
                "external_id": f"{type_}-bulk-{start + i:05d}",
                "owner_id": owners[i % len(owners)],
                "properties": {},
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ],
    )


def owned_projects(db, tenant: Tenant, owner: User, count: int) -> None:
    """`count` projects of `owner`, named apart from tests.bulk's."""
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant.id,
            "name": f"owned {i}",
            "owner_id": owner.id,
            "created_at": now,
        }
        for i in range(count)
    ]
    db.execute(insert(Project), rows)


def application_permissions(db, names: Iterable[str]) -> list[str]:
    """Application permissions added to the catalog at once (the epoch bumped, as the API does)."""
    now = utcnow()
    names = list(names)
    db.execute(
        insert(ApplicationPermission),
        [
            {"name": n, "description": "", "member": False, "created_at": now, "updated_at": now}
            for n in names
        ],
    )
    mark_revocation(db)
    return names


def grow(db, tenant: Tenant, holders: Sequence[User], count: int = LARGE) -> list[uuid.UUID]:
    """The data every test grows: `count` users, projects and clients, up to 50 other tenants,
    APP_PERMISSIONS more permissions in the catalog, `count` roles held by the first of `holders`
    (tests.test_query_counts.bulk_fill) and `count` more (each granting GRANTS and one application
    permission) held by every one of `holders`. Returns the latter."""
    owner = holders[0]
    bulk_fill(db, tenant, owner, count)  # count users, count roles held by owner, projects, tenants
    extra = application_permissions(db, (f"bulk{i}:do" for i in range(APP_PERMISSIONS)))
    roles = bulk.roles(db, tenant, count, permissions=(*GRANTS, extra[0]))
    hold(db, tenant, [h.id for h in holders], roles)
    clients(db, tenant, owner, count)
    db.flush()
    mark_revocation(db)  # as a role change through the API would
    return roles


@pytest.fixture
def acme(db):
    return TenantFactory(slug="acme")


@pytest.fixture
def invoices(db):
    """Application permissions with an ownership rule: approving an invoice needs owning it
    (or invoices:manage); the member role reads them."""
    ApplicationPermissionFactory(name="invoices:manage")
    ApplicationPermissionFactory(name="invoices:approve", owner_override="invoices:manage")
    ApplicationPermissionFactory(name="invoices:read", member=True)


# ------------------------------------------------------------------------ token endpoint


def token_request(client_row: Client) -> dict[str, Any]:
    return {
        "data": {
            "grant_type": "client_credentials",
            "client_id": client_row.client_id,
            "client_secret": DEFAULT_CLIENT_SECRET,
        }
    }


def test_token_endpoint_does_not_grow_with_clients_scopes_or_the_owners_roles(
    client, db, acme, count_queries
):
    owner = UserFactory(tenant=acme, roles=["admin"])
    few = ClientFactory(tenant=acme, owner=owner, scopes=["projects:read"])
    client.post("/auth/token", **token_request(few))  # warm: the catalog, once per epoch
    small, response = cost_of(client, count_queries, "POST", "/auth/token", **token_request(few))
    assert response.get_json()["scope"] == "projects:read"

    grow(db, acme, [owner])  # 1,000 more clients in the tenant; the owner holds 2,001 roles
    every_scope = sorted(TENANT_PERMISSIONS) + [f"bulk{i}:do" for i in range(APP_PERMISSIONS)]
    many = ClientFactory(tenant=acme, owner=owner, scopes=every_scope)
    client.post("/auth/token", **token_request(many))
    large, response = cost_of(client, count_queries, "POST", "/auth/token", **token_request(many))
    assert len(response.get_json()["scope"].split()) == len(every_scope)

    # The client with its tenant, the epoch, its owner with the owner's roles and their grants
    # (the owner bound), the audit event of the issue.
    assert_constant(
        "POST /auth/token",
        {"1 scope, 1 client": small, f"{len(every_scope)} scopes, 1,002 clients, 2,001 roles": large},
        at_most=4,
    )


# ---------------------------------------------------------------------------------- login


def login_body(user: User) -> dict[str, Any]:
    return {"json": {"tenant": user.tenant.slug, "username": user.username, "password": PASSWORD}}


def test_login_does_not_grow_with_users_roles_permissions_or_tenants(client, db, acme, count_queries):
    alice = UserFactory(tenant=acme, roles=["member"], username="alice")
    client.post("/auth/login", **login_body(alice))  # warm: the catalog, once per epoch
    small, _ = cost_of(client, count_queries, "POST", "/auth/login", **login_body(alice))

    grow(db, acme, [alice])  # 1,000 users, 50 tenants, 100 more permissions; alice holds 2,001 roles
    client.post("/auth/login", **login_body(alice))
    large, response = cost_of(client, count_queries, "POST", "/auth/login", **login_body(alice))
    assert response.get_json()["access_token"]

    # The user with its tenant, the tenant's status, the epoch, the roles with their grants, the
    # audit event, the login session, last_login_at.
    assert_constant(
        "POST /auth/login", {"1 role": small, "2,001 roles, 1,001 users, 51 tenants": large}, at_most=7
    )


# -------------------------------------------------------------------------------- refresh


def test_refresh_does_not_grow_with_roles_or_users(client, db, acme, login, count_queries):
    alice = UserFactory(tenant=acme, roles=["member"], username="alice")

    def refresh_cost() -> Cost:
        tokens = login(alice)
        # warm: the first refresh after an epoch bump loads the catalog
        tokens = client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).get_json()
        spent, _ = cost_of(
            client, count_queries, "POST", "/auth/refresh", headers=bearer(tokens["refresh_token"])
        )
        return spent

    small = refresh_cost()
    grow(db, acme, [alice])
    large = refresh_cost()

    # The epoch, the user, its roles with their grants, the session's rotation, the audit event.
    assert_constant("POST /auth/refresh", {"1 role": small, "2,001 roles, 1,001 users": large}, at_most=5)


# -------------------------------------------------------------------------- introspection


def test_introspection_does_not_grow_with_roles_clients_or_users(client, db, acme, login, count_queries):
    admin = UserFactory(tenant=acme, roles=["admin"])
    alice = UserFactory(tenant=acme, roles=["member"], username="alice")
    introspector = ClientFactory(tenant=acme, owner=admin, scopes=["tokens:introspect"])
    caller = {"client_id": introspector.client_id, "client_secret": DEFAULT_CLIENT_SECRET}

    def introspect_costs() -> tuple[Cost, Cost]:
        """A token introspected for the first time, then again (the caller warmed up on another)."""
        older, token = login(alice)["access_token"], login(alice)["access_token"]
        client.post("/auth/introspect", data={**caller, "token": older})  # also its audit, once a minute
        fresh, response = cost_of(
            client, count_queries, "POST", "/auth/introspect", data={**caller, "token": token}
        )
        assert response.get_json()["active"] is True
        again, _ = cost_of(client, count_queries, "POST", "/auth/introspect", data={**caller, "token": token})
        return fresh, again

    small = introspect_costs()
    grow(db, acme, [alice, admin])  # alice holds 2,001 roles, the introspector's owner 1,001
    large = introspect_costs()

    labels = ("1 role", "2,001 roles, 1,001 clients")
    # The calling client with its tenant, the epoch, the client's owner with the owner's roles
    # and their grants (its bound); for a token seen for the first time, its state too (its
    # session with its user and tenant, one query).
    assert_constant(
        "POST /auth/introspect (a token seen for the first time)",
        dict(zip(labels, (small[0], large[0]), strict=True)),
        at_most=4,
    )
    assert_constant(
        "POST /auth/introspect (a token seen before)",
        dict(zip(labels, (small[1], large[1]), strict=True)),
        at_most=3,
    )


# ------------------------------------------------------------------------------ decisions


@pytest.fixture
def pep(acme):
    """The caller of the decision API: an admin of acme (it holds decisions:evaluate)."""
    return UserFactory(tenant=acme, roles=["admin"], username="pep")


def evaluation_cost(app, client, count_queries, pep_headers, body) -> tuple[Cost, Cost]:
    """What one evaluation costs with its subject not yet loaded, then cached under the epoch."""
    warm = {**body, "subject": {"type": "user", "id": "pep"}}
    client.post("/access/v1/evaluation", json=warm, headers=pep_headers)  # the caller's state, the catalog
    services(app).subject_cache.clear()
    cold, response = cost_of(
        client, count_queries, "POST", "/access/v1/evaluation", json=body, headers=pep_headers
    )
    assert response.get_json() == {"decision": True}
    cached, _ = cost_of(
        client, count_queries, "POST", "/access/v1/evaluation", json=body, headers=pep_headers
    )
    return cold, cached


def test_an_evaluation_does_not_grow_with_resources_roles_or_users(
    app, client, db, acme, pep, auth_headers, invoices, count_queries
):
    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    bob = UserFactory(tenant=acme, roles=["approver"], username="bob")
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-1", owner=bob)
    body = {
        "subject": {"type": "user", "id": str(bob.id)},
        "action": {"name": "approve"},  # an ownership rule: bob owns inv-1
        "resource": {"type": "invoices", "id": "inv-1"},
    }
    small_cold, small_cached = evaluation_cost(app, client, count_queries, auth_headers(pep), body)

    grow(db, acme, [bob])
    resources(db, acme, "invoices", LARGE, owners=[bob.id, pep.id])
    large_cold, large_cached = evaluation_cost(app, client, count_queries, auth_headers(pep), body)

    # The epoch (the caller's token check), the subject with its roles, the resource's owner.
    assert_constant(
        "POST /access/v1/evaluation (subject not cached)",
        {"1 role, 1 resource": small_cold, "2,001 roles, 1,001 resources": large_cold},
        at_most=3,
    )
    # The epoch, the resource's owner.
    assert_constant(
        "POST /access/v1/evaluation (subject cached)",
        {"1 role, 1 resource": small_cached, "2,001 roles, 1,001 resources": large_cached},
        at_most=2,
    )


def batch_cost(app, client, count_queries, pep_headers, items) -> Cost:
    """A batch's statements with none of its subjects cached (the caller warmed up)."""
    warm = {"evaluations": [{**items[0], "subject": {"type": "user", "id": "pep"}}]}
    client.post("/access/v1/evaluations", json=warm, headers=pep_headers)
    services(app).subject_cache.clear()
    spent, response = cost_of(
        client,
        count_queries,
        "POST",
        "/access/v1/evaluations",
        json={"evaluations": items},
        headers=pep_headers,
    )
    decisions = response.get_json()["evaluations"]
    assert len(decisions) == len(items)
    assert all(d["decision"] for d in decisions), decisions
    return spent


def test_a_batch_does_not_grow_with_its_items_resources_or_roles(
    app, client, db, acme, pep, auth_headers, invoices, count_queries
):
    """Each item a different subject approving the invoice it owns (an ownership rule), so that
    every item needs its subject and its resource's owner."""
    approver = RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    subjects = bulk.users(db, acme, range(10_000, 10_100), role=approver)
    resources(db, acme, "invoices", 100, owners=subjects)
    db.flush()

    def items(size: int) -> list[dict[str, Any]]:
        return [
            {
                "subject": {"type": "user", "id": str(subjects[i])},
                "action": {"name": "approve"},
                "resource": {"type": "invoices", "id": f"invoices-bulk-{i:05d}"},
            }
            for i in range(size)
        ]

    costs = {
        f"{n} item{'s' if n > 1 else ''}": batch_cost(app, client, count_queries, auth_headers(pep), items(n))
        for n in (1, 10, 100)
    }

    roles = grow(db, acme, [pep])
    hold(db, acme, subjects, roles[:50])  # each subject holds 51 roles
    resources(db, acme, "invoices-other", LARGE)  # registered resources of another type
    resources(db, acme, "invoices", LARGE, owners=[pep.id], start=100)
    db.flush()
    costs["100 items, 51 roles each, 2,000 more resources"] = batch_cost(
        app, client, count_queries, auth_headers(pep), items(100)
    )

    # The epoch, the subjects with their roles (one query), the registered owners (one query).
    assert_constant("POST /access/v1/evaluations", costs, at_most=3)


def test_a_mixed_batch_does_not_grow_with_its_items(
    app, client, db, acme, pep, auth_headers, invoices, count_queries
):
    """Users deciding on owned registered resources and owned projects, and clients, in one
    batch of 10, 100 or 1,000 items."""
    approver = RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    member = db.query(Role).filter_by(tenant_id=acme.id, name="member").one()
    users = bulk.users(db, acme, range(10_000, 10_250), role=approver)
    hold(db, acme, users, [member.id])
    resources(db, acme, "invoices", 250, owners=users)
    owners = {u: db.get(User, u) for u in users[:50]}
    projects = [ProjectFactory(tenant=acme, owner=owners[u]) for u in users[:50]]
    readers = [ClientFactory(tenant=acme, owner=pep, scopes=["invoices:read"]) for _ in range(25)]

    def item(i: int) -> dict[str, Any]:
        kind = i % 4
        if kind == 0:
            return {
                "subject": {"type": "user", "id": str(users[i % 250])},
                "action": {"name": "approve"},
                "resource": {"type": "invoices", "id": f"invoices-bulk-{i % 250:05d}"},
            }
        if kind == 1:
            return {
                "subject": {"type": "user", "id": str(users[i % 50])},
                "action": {"name": "write"},  # members write the projects they own
                "resource": {"type": "projects", "id": str(projects[i % 50].id)},
            }
        if kind == 2:
            return {
                "subject": {"type": "client", "id": readers[i % 25].client_id},
                "action": {"name": "read"},
                "resource": {"type": "invoices", "id": f"anything-{i}"},
            }
        return {
            "subject": {"type": "user", "id": str(users[i % 250])},
            "action": {"name": "read"},
            "resource": {"type": "invoices", "id": f"anything-{i}"},
        }

    costs = {
        f"{n:,} items": batch_cost(app, client, count_queries, auth_headers(pep), [item(i) for i in range(n)])
        for n in (10, 100, 1000)
    }

    # The epoch, the users, the clients, the clients' owners, the registered owners, the projects' owners.
    assert_constant("POST /access/v1/evaluations (users, clients, resources, projects)", costs, at_most=6)


# ------------------------------------------------------------------------------- searches

PAGE = {"limit": 10}


def assert_search_constant(
    path: str, labels: tuple[str, str], small: tuple[Cost, Cost], large: tuple[Cost, Cost], *, at_most: int
) -> None:
    """The first pages cost the same, and so do the second ones (whose subject, when the search
    has one, is cached by the first)."""
    assert_constant(f"{path}, page 1", {labels[0]: small[0], labels[1]: large[0]}, at_most=at_most)
    assert_constant(f"{path}, page 2", {labels[0]: small[1], labels[1]: large[1]}, at_most=at_most)


def search_costs(app, client, count_queries, pep_headers, url, body) -> tuple[Cost, Cost]:
    """The first two pages of a search (page size fixed), its subject not cached. A page of
    clients may hold fewer than the limit (they are filtered after the query)."""
    client.post(url, json={**body, "page": PAGE}, headers=pep_headers)  # the caller's state, the catalog
    services(app).subject_cache.clear()
    first, response = cost_of(
        client, count_queries, "POST", url, json={**body, "page": PAGE}, headers=pep_headers
    )
    page = response.get_json()
    assert 0 < len(page["results"]) <= PAGE["limit"], page
    if body["subject"]["type"] != "client":
        assert len(page["results"]) == PAGE["limit"], page
    token = page["page"]["next_token"]
    assert token, page
    second, response = cost_of(
        client,
        count_queries,
        "POST",
        url,
        json={**body, "page": {**PAGE, "token": token}},
        headers=pep_headers,
    )
    assert response.status_code == 200
    return first, second


SUBJECT_SEARCHES = {
    "users who read projects": {
        "subject": {"type": "user"},
        "action": {"name": "read"},
        "resource": {"type": "projects", "id": "p"},
    },
    "users who may approve an invoice (ownership)": {
        "subject": {"type": "user"},
        "action": {"name": "approve"},
        "resource": {"type": "invoices", "id": "invoices-bulk-00000"},
    },
    "clients who read invoices": {
        "subject": {"type": "client"},
        "action": {"name": "read"},
        "resource": {"type": "invoices", "id": "i"},
    },
}


@pytest.mark.parametrize("search", SUBJECT_SEARCHES, ids=list(SUBJECT_SEARCHES))
def test_subject_search_does_not_grow_with_users_clients_or_roles(
    app, client, db, acme, pep, auth_headers, invoices, count_queries, search
):
    approver = RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve", "projects:read"])
    manager = RoleFactory(tenant=acme, name="manager", permissions=["invoices:approve", "invoices:manage"])
    users = bulk.users(db, acme, range(10_000, 10_025), role=approver)
    users += bulk.users(db, acme, range(20_000, 20_025), role=manager)
    resources(db, acme, "invoices", 1, owners=[users[0]])
    for _ in range(25):
        ClientFactory(tenant=acme, owner=pep, scopes=["invoices:read"])
    url, body = "/access/v1/search/subject", SUBJECT_SEARCHES[search]
    small = search_costs(app, client, count_queries, auth_headers(pep), url, body)

    roles = grow(db, acme, [pep])  # 1,000 users, 1,000 clients, 2,000 roles held by pep
    hold(db, acme, users, roles[:50])  # the users found hold 51 roles each
    clients(db, acme, pep, LARGE, scopes=["invoices:read", "projects:read"])
    db.flush()
    large = search_costs(app, client, count_queries, auth_headers(pep), url, body)

    # Users: the epoch, the page. Clients: the epoch, the page, the page's owners.
    assert_search_constant(
        f"POST /access/v1/search/subject ({search})",
        ("50 users, 25 clients", "1,051 users (those found holding 51 roles), 2,025 clients"),
        small,
        large,
        at_most=3 if body["subject"]["type"] == "client" else 2,
    )


RESOURCE_SEARCHES = {
    "invoices bob approves (ownership)": ("bob", "approve", "invoices"),
    "invoices pep approves (override)": ("pep", "approve", "invoices"),
    "projects bob writes (ownership)": ("bob", "write", "projects"),
    "projects pep reads": ("pep", "read", "projects"),
}


@pytest.mark.parametrize("search", RESOURCE_SEARCHES, ids=list(RESOURCE_SEARCHES))
def test_resource_search_does_not_grow_with_resources_or_roles(
    app, client, db, acme, pep, auth_headers, invoices, count_queries, search
):
    who, action, type_ = RESOURCE_SEARCHES[search]
    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    bob = UserFactory(tenant=acme, roles=["approver", "member"], username="bob")
    resources(db, acme, "invoices", 25, owners=[bob.id])
    for _ in range(25):
        ProjectFactory(tenant=acme, owner=bob)
    body = {"subject": {"type": "user", "id": who}, "action": {"name": action}, "resource": {"type": type_}}
    url = "/access/v1/search/resource"
    small = search_costs(app, client, count_queries, auth_headers(pep), url, body)

    roles = grow(db, acme, [pep])  # 1,000 projects owned by pep, 2,000 roles held by pep
    hold(db, acme, [bob.id], roles[:500])  # bob holds 502 roles (without invoices:manage)
    resources(db, acme, "invoices", LARGE, owners=[bob.id, pep.id], start=25)
    owned_projects(db, acme, bob, LARGE)
    db.flush()
    large = search_costs(app, client, count_queries, auth_headers(pep), url, body)

    # The epoch, the subject with its roles (on page 2, cached by page 1), the page.
    assert_search_constant(
        f"POST /access/v1/search/resource ({search})",
        ("25 invoices and projects", "1,025 invoices, 2,025 projects, bob holding 502 roles"),
        small,
        large,
        at_most=3,
    )
    assert large[1].count == large[0].count - 1, "page 2 loads the subject again"


def test_action_search_does_not_grow_with_actions_roles_or_resources(
    app, client, db, acme, pep, auth_headers, invoices, count_queries
):
    actions = [f"invoices:act{i:03d}" for i in range(20)]
    application_permissions(db, actions)
    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve", *actions])
    bob = UserFactory(tenant=acme, roles=["approver", "member"], username="bob")
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-1", owner=bob)
    body = {"subject": {"type": "user", "id": "bob"}, "resource": {"type": "invoices", "id": "inv-1"}}
    url = "/access/v1/search/action"
    small = search_costs(app, client, count_queries, auth_headers(pep), url, body)

    more = application_permissions(db, (f"invoices:more{i:03d}" for i in range(200)))
    roles = grow(db, acme, [bob])  # bob holds 2,000 more roles
    db.execute(insert(RolePermission), [{"role_id": roles[0], "permission": p} for p in more])
    resources(db, acme, "invoices", LARGE, owners=[bob.id, pep.id])
    db.flush()
    large = search_costs(app, client, count_queries, auth_headers(pep), url, body)

    # The epoch, the subject with its roles (on page 2, cached by page 1), the resource's owner.
    assert_search_constant(
        "POST /access/v1/search/action",
        ("23 actions", "223 actions, bob holding 2,002 roles, 1,001 invoices"),
        small,
        large,
        at_most=3,
    )
    assert large[1].count == large[0].count - 1, "page 2 loads the subject again"


# ----------------------------------------------------------------------------- users page


def test_a_users_page_does_not_grow_with_roles_per_user(client, db, acme, login, count_queries):
    admin = UserFactory(tenant=acme, roles=["admin"])
    member = db.query(Role).filter_by(tenant_id=acme.id, name="member").one()
    first_page = [admin.id, *bulk.users(db, acme, range(10_000, 10_030), role=member)]
    db.flush()
    url = f"/tenants/{acme.id}/users?limit=20"

    def page_cost() -> Cost:
        headers = bearer(login(admin)["access_token"])
        client.get(url, headers=headers)  # warm: the token's state
        spent, response = cost_of(client, count_queries, "GET", url, headers=headers)
        assert len(response.get_json()["items"]) == 20
        return spent

    small = page_cost()
    roles = grow(db, acme, [admin])  # 1,000 more users; the admin holds 2,001 roles
    hold(db, acme, first_page[1:], roles[:100])  # every user of the page holds 101 roles
    db.flush()
    large = page_cost()

    # The epoch, the page of users, their roles (one query for the whole page).
    assert_constant(
        "GET /tenants/{tid}/users", {"1 role per user": small, "101 roles per user": large}, at_most=3
    )
