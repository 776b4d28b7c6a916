"""Review: a platform operator naming a tenant that does not exist gets a 404 from the users
routes, but the projects, clients and roles lists answer 200 with an empty page, and creating
a project there answers 409 "a project with this name already exists" (the foreign-key
failure is read as a duplicate by flush_or_conflict)."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import TenantFactory, UserFactory


@pytest.fixture
def operator(auth_headers):
    return auth_headers(UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"]))


def test_creating_a_project_in_a_missing_tenant_is_a_404_not_a_duplicate_name_409(client, operator):
    response = client.post(f"/tenants/{uuid.uuid4()}/projects", json={"name": "Anything"}, headers=operator)

    assert response.status_code == 404, response.get_json()


@pytest.mark.parametrize("area", ["projects", "clients", "roles"])
def test_listing_a_missing_tenant_is_a_404_like_the_users_list(client, operator, area):
    response = client.get(f"/tenants/{uuid.uuid4()}/{area}", headers=operator)

    assert response.status_code == 404
