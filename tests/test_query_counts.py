"""SQL per request stays constant as data grows (no N+1, no per-role or per-tenant query)."""

from __future__ import annotations

import pytest

from models import Tenant, User
from tests import bulk
from tests.factories import ProjectFactory, RoleFactory, TenantFactory, UserFactory


def bulk_fill(db, tenant: Tenant, owner: User, count: int) -> None:
    """`count` users, roles (held by `owner`) and projects, and up to 50 other tenants."""
    bulk.roles(db, tenant, count, holder=owner)
    bulk.users(db, tenant, range(count))
    bulk.projects(db, tenant, owner, count)
    for i in range(min(count, 50)):
        TenantFactory(slug=f"other-{count}-{i}")
    db.flush()


def queries_for(client, count_queries, method, url, headers):
    client.open(url, method=method, headers=headers)  # warm: the token's state is loaded once
    with count_queries.counting():
        response = client.open(url, method=method, headers=headers)
    assert response.status_code == 200, response.get_json()
    return count_queries.count


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/auth/me"),
        ("GET", "/tenants/{tid}/projects"),
        ("GET", "/tenants/{tid}/projects?limit=100"),
        ("GET", "/permissions"),
        ("GET", "/protected"),
    ],
)
def test_queries_per_request_do_not_grow_with_data(client, db, login, count_queries, method, path):
    acme = TenantFactory(slug="acme")
    admin = UserFactory(tenant=acme, roles=["admin"])
    RoleFactory(tenant=acme, name="custom", permissions=["projects:read"])
    ProjectFactory.create_batch(10, tenant=acme, owner=admin)
    headers = {"Authorization": f"Bearer {login(admin)['access_token']}"}
    url = path.format(tid=acme.id)

    small = queries_for(client, count_queries, method, url, headers)
    bulk_fill(db, acme, admin, 1000)
    headers = {"Authorization": f"Bearer {login(admin)['access_token']}"}  # now holding 1,001 roles
    large = queries_for(client, count_queries, method, url, headers)

    assert small == large


def test_auth_me_costs_two_queries(client, db, auth_headers, count_queries):
    user = UserFactory(roles=["member"])
    headers = auth_headers(user)
    client.get("/auth/me", headers=headers)  # the first request loads the token state

    with count_queries.counting():
        client.get("/auth/me", headers=headers)

    # The revocation epoch (the one state lookup), then the user with its tenant.
    assert count_queries.count == 2, count_queries.statements


def test_first_request_of_a_token_loads_its_state_once(client, db, auth_headers, count_queries):
    user = UserFactory(roles=["member"])
    headers = auth_headers(user)

    with count_queries.counting():
        client.get("/permissions", headers=headers)
    first = count_queries.count
    with count_queries.counting():
        client.get("/permissions", headers=headers)

    assert (first, count_queries.count) == (2, 1), count_queries.statements


def test_protected_list_costs_two_queries(client, db, auth_headers, count_queries):
    user = UserFactory(roles=["member"])
    ProjectFactory.create_batch(5, tenant=user.tenant, owner=user)
    headers = auth_headers(user)
    client.get(f"/tenants/{user.tenant_id}/projects", headers=headers)

    with count_queries.counting():
        client.get(f"/tenants/{user.tenant_id}/projects", headers=headers)

    # The revocation epoch, then one page of projects.
    assert count_queries.count == 2, count_queries.statements


def test_login_costs_constant_queries_as_roles_grow(client, db, count_queries):
    from tests.conftest import PASSWORD

    acme = TenantFactory(slug="acme")
    admin = UserFactory(tenant=acme, roles=["admin"], username="admin")
    body = {"tenant": "acme", "username": "admin", "password": PASSWORD}
    client.post("/auth/login", json=body)  # warm: the permission catalog is loaded once per epoch

    with count_queries.counting():
        client.post("/auth/login", json=body)
    small = count_queries.count
    bulk_fill(db, acme, admin, 300)
    with count_queries.counting():
        client.post("/auth/login", json=body)

    assert count_queries.count == small


@pytest.mark.parametrize("caller_roles", [["member"], ["admin"]])  # the owner, and a projects:manage holder
def test_a_project_change_loads_the_project_once(client, db, auth_headers, count_queries, caller_roles):
    owner = UserFactory(roles=["member"])
    caller = owner if caller_roles == ["member"] else UserFactory(tenant=owner.tenant, roles=caller_roles)
    project = ProjectFactory(tenant=owner.tenant, owner=owner, name="before")
    headers = auth_headers(caller)
    client.get("/auth/me", headers=headers)  # the first request loads the token state
    url = f"/tenants/{owner.tenant_id}/projects/{project.id}"

    with count_queries.counting():
        response = client.patch(url, json={"name": "after"}, headers=headers)

    assert response.status_code == 200, response.get_json()
    loads = [
        s for s in count_queries.statements if s.lstrip().upper().startswith("SELECT") and "projects" in s
    ]
    assert len(loads) == 1, count_queries.statements
