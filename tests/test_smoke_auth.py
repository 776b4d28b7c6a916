from tests.factories import ProjectFactory, TenantFactory, UserFactory


def test_member_lists_projects_of_own_tenant(client, auth_headers, db):
    acme = TenantFactory(slug="acme")
    bob = UserFactory(tenant=acme, roles=["member"])
    ProjectFactory.create_batch(3, tenant=acme)

    response = client.get(f"/tenants/{acme.id}/projects", headers=auth_headers(bob))

    assert response.status_code == 200
    assert len(response.get_json()["items"]) == 3
