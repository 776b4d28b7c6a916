"""The sample resource: ownership, tenant isolation, validation, conflicts, pagination."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from models import AuditEvent, Project
from tests.factories import ProjectFactory, TenantFactory, UserFactory


def test_member_creates_a_project_they_own(client, acme, auth_headers):
    bob = UserFactory(tenant=acme, roles=["member"])

    response = client.post(
        f"/tenants/{acme.id}/projects", json={"name": "Roadmap"}, headers=auth_headers(bob)
    )

    assert response.status_code == 201
    assert response.get_json()["owner_id"] == str(bob.id)


def test_member_renames_own_project_but_not_anothers(client, acme, auth_headers):
    bob = UserFactory(tenant=acme, roles=["member"])
    own, other = ProjectFactory(tenant=acme, owner=bob), ProjectFactory(tenant=acme)
    headers = auth_headers(bob)

    mine = client.patch(f"/tenants/{acme.id}/projects/{own.id}", json={"name": "Mine"}, headers=headers)
    theirs = client.patch(f"/tenants/{acme.id}/projects/{other.id}", json={"name": "Theirs"}, headers=headers)

    assert mine.status_code == 200
    assert theirs.status_code == 403
    assert theirs.get_json()["required_permissions"] == ["projects:manage"]


def test_admin_deletes_any_project_and_the_deletion_is_audited(client, db, acme, auth_headers):
    admin = UserFactory(tenant=acme, roles=["admin"])
    project = ProjectFactory(tenant=acme)

    response = client.delete(f"/tenants/{acme.id}/projects/{project.id}", headers=auth_headers(admin))

    assert response.status_code == 204
    assert db.scalars(select(Project).where(Project.id == project.id)).first() is None
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "project.deleted")).one()
    assert event.actor_id == str(admin.id)
    assert event.target_id == str(project.id)


def test_another_tenants_project_is_a_404_exactly_like_a_missing_one(client, acme, auth_headers):
    admin = UserFactory(tenant=acme, roles=["admin"])
    foreign = ProjectFactory(tenant=TenantFactory(slug="globex"))
    headers = auth_headers(admin)

    by_foreign_id = client.get(f"/tenants/{acme.id}/projects/{foreign.id}", headers=headers)
    missing = client.get(f"/tenants/{acme.id}/projects/{uuid.uuid4()}", headers=headers)
    delete_foreign = client.delete(f"/tenants/{acme.id}/projects/{foreign.id}", headers=headers)

    assert by_foreign_id.status_code == missing.status_code == delete_foreign.status_code == 404
    assert by_foreign_id.get_json() == missing.get_json()


def test_another_tenants_path_is_a_404_even_for_its_admin(client, acme, auth_headers):
    globex = TenantFactory(slug="globex")
    ProjectFactory(tenant=globex)
    acme_admin = UserFactory(tenant=acme, roles=["admin"])

    response = client.get(f"/tenants/{globex.id}/projects", headers=auth_headers(acme_admin))

    assert response.status_code == 404


def test_member_cannot_delete_another_tenants_project_through_own_tenant_path(client, acme, auth_headers):
    bob = UserFactory(tenant=acme, roles=["member"])
    foreign = ProjectFactory(tenant=TenantFactory())

    response = client.delete(f"/tenants/{acme.id}/projects/{foreign.id}", headers=auth_headers(bob))

    assert response.status_code == 404


def test_platform_admin_reaches_any_tenant(client, acme, auth_headers):
    platform = TenantFactory(slug="platform")
    operator = UserFactory(tenant=platform, roles=["platform-admin"])
    project = ProjectFactory(tenant=acme)

    listed = client.get(f"/tenants/{acme.id}/projects", headers=auth_headers(operator))
    renamed = client.patch(
        f"/tenants/{acme.id}/projects/{project.id}",
        json={"name": "By the operator"},
        headers=auth_headers(operator),
    )

    assert listed.status_code == 200
    assert renamed.status_code == 200


def test_duplicate_name_is_a_409(client, acme, auth_headers):
    bob = UserFactory(tenant=acme, roles=["member"])
    ProjectFactory(tenant=acme, name="Taken")

    response = client.post(f"/tenants/{acme.id}/projects", json={"name": "Taken"}, headers=auth_headers(bob))

    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 42}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "bad\u202ename"}, "name"),
        ({"name": "ok", "owner_id": str(uuid.uuid4())}, "owner_id"),
        ({"name": "ok", "tenant_id": str(uuid.uuid4())}, "tenant_id"),
    ],
    ids=["missing", "empty", "not a string", "too long", "bidi override", "owner_id", "tenant_id"],
)
def test_invalid_bodies_are_422_naming_the_field(client, acme, auth_headers, body, field):
    bob = UserFactory(tenant=acme, roles=["member"])

    response = client.post(f"/tenants/{acme.id}/projects", json=body, headers=auth_headers(bob))

    assert response.status_code == 422
    assert field in [error["field"] for error in response.get_json()["errors"]]


def test_pagination_walks_every_project_once(client, acme, auth_headers):
    bob = UserFactory(tenant=acme, roles=["member"])
    created = {str(p.id) for p in ProjectFactory.create_batch(7, tenant=acme, owner=bob)}
    headers = auth_headers(bob)

    seen, cursor, pages = [], None, 0
    while True:
        url = f"/tenants/{acme.id}/projects?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).get_json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert sorted(seen) == sorted(created)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "unknown=1"])
def test_bad_list_parameters_are_422(client, acme, auth_headers, query):
    bob = UserFactory(tenant=acme, roles=["member"])

    response = client.get(f"/tenants/{acme.id}/projects?{query}", headers=auth_headers(bob))

    assert response.status_code == 422


def test_filter_by_owner(client, acme, auth_headers):
    bob = UserFactory(tenant=acme, roles=["member"])
    ProjectFactory.create_batch(2, tenant=acme, owner=bob)
    ProjectFactory.create_batch(3, tenant=acme)

    page = client.get(f"/tenants/{acme.id}/projects?owner_id={bob.id}", headers=auth_headers(bob)).get_json()

    assert len(page["items"]) == 2


def test_a_denied_request_is_audited_and_names_its_decision(client, db, acme, auth_headers):
    bob = UserFactory(tenant=acme, roles=["member"])
    project = ProjectFactory(tenant=acme)

    response = client.delete(f"/tenants/{acme.id}/projects/{project.id}", headers=auth_headers(bob))

    decision_id = response.get_json()["decision_id"]
    event = db.scalars(select(AuditEvent).where(AuditEvent.id == uuid.UUID(decision_id))).one()
    assert event.action == "access.denied"
    assert event.actor_id == str(bob.id)
    assert event.details["required_permissions"] == ["projects:manage"]
    assert event.details["route"] == "/tenants/<uuid:tid>/projects/<uuid:pid>"


def test_a_cross_tenant_probe_is_audited_in_the_callers_tenant(client, db, acme, auth_headers):
    bob = UserFactory(tenant=acme, roles=["member"])
    globex = TenantFactory(slug="globex")

    response = client.get(f"/tenants/{globex.id}/projects", headers=auth_headers(bob))

    assert response.status_code == 404
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).one()
    assert event.tenant_id == acme.id
    assert event.details["status"] == 404
