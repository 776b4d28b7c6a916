"""Registered resources: per tenant, by type and the platform's own id."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from models import utcnow
from tests.factories import ResourceFactory, TenantFactory, UserFactory


@pytest.fixture
def headers(acme, auth_headers):
    return auth_headers(UserFactory(tenant=acme, roles=["admin"]))


def url(tenant, rtype="invoices", rid="inv-1") -> str:
    return f"/tenants/{tenant.id}/resources/{rtype}/{rid}"


def test_put_creates_then_replaces_whole(client, acme, headers):
    owner = UserFactory(tenant=acme)

    created = client.put(
        url(acme), json={"owner_id": str(owner.id), "properties": {"amount": 10}}, headers=headers
    )
    replaced = client.put(url(acme), json={"properties": {"amount": 12}}, headers=headers)
    read = client.get(url(acme), headers=headers).get_json()

    assert created.status_code == 201
    assert created.get_json()["owner_id"] == str(owner.id)
    assert replaced.status_code == 200
    assert read["owner_id"] is None
    assert read["properties"] == {"amount": 12}
    assert (read["type"], read["id"]) == ("invoices", "inv-1")


def test_an_id_may_hold_slashes_and_spaces(client, acme, headers):
    assert client.put(url(acme, rid="2026/inv 7"), json={}, headers=headers).status_code == 201
    assert client.get(url(acme, rid="2026/inv 7"), headers=headers).get_json()["id"] == "2026/inv 7"


def test_list_by_type_is_paginated(client, acme, headers):
    for i in range(5):
        ResourceFactory(tenant=acme, type="invoices", external_id=f"inv-{i}")
    ResourceFactory(tenant=acme, type="orders", external_id="o-1")

    first = client.get(f"/tenants/{acme.id}/resources?type=invoices&limit=3", headers=headers).get_json()
    second = client.get(
        f"/tenants/{acme.id}/resources?type=invoices&limit=3&cursor={first['next_cursor']}", headers=headers
    ).get_json()

    assert [r["id"] for r in first["items"] + second["items"]] == [f"inv-{i}" for i in range(5)]
    assert second["next_cursor"] is None


def test_delete_forgets_it(client, acme, headers):
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-1")

    assert client.delete(url(acme), headers=headers).status_code == 204
    assert client.get(url(acme), headers=headers).status_code == 404


def test_another_tenants_resource_is_404(client, acme, headers):
    globex = TenantFactory(slug="globex")
    ResourceFactory(tenant=globex, type="invoices", external_id="inv-1")

    assert client.get(url(globex), headers=headers).status_code == 404
    assert client.put(url(globex), json={}, headers=headers).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"properties": {"x": "y" * 5000}},
        {"owner_id": "not-a-uuid"},
        {"properties": []},
        {"unknown": 1},
    ],
)
def test_bad_bodies_are_422(client, acme, headers, body):
    assert client.put(url(acme), json=body, headers=headers).status_code == 422


def test_an_owner_of_another_tenant_is_refused(client, acme, headers):
    stranger = UserFactory(tenant=TenantFactory(slug="globex"))

    response = client.put(url(acme), json={"owner_id": str(stranger.id)}, headers=headers)

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "owner_id"


@pytest.mark.parametrize("rtype", ["Invoices", "in voices", "1abc"])
def test_a_malformed_type_is_422(client, acme, headers, rtype):
    assert client.put(url(acme, rtype=rtype), json={}, headers=headers).status_code == 422


def test_members_cannot_read_or_write_resources(client, acme, auth_headers):
    member = auth_headers(UserFactory(tenant=acme, roles=["member"]))

    assert client.get(url(acme), headers=member).status_code == 403
    assert client.put(url(acme), json={}, headers=member).status_code == 403


def test_the_same_new_resource_put_at_once_is_a_201_and_200s(postgres_app):
    """A PUT is idempotent: identical requests racing to register one resource answer 201 and
    200, never 409 (the loser of the insert replaces what the winner wrote). PostgreSQL only:
    SQLite serialises writers."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from app.provisioning import builtin_role, create_tenant, create_user
    from app.services import services
    from policies import BuiltinRole
    from tests.conftest import PASSWORD, bearer

    app = postgres_app
    with services(app).database.sessions() as session, session.begin():
        acme = create_tenant(session, "acme", "Acme")
        admin = builtin_role(session, acme, BuiltinRole.ADMIN)
        create_user(session, acme, "alice", services(app).passwords.hash(PASSWORD), roles=[admin])
        acme_id = acme.id
    login = {"tenant": "acme", "username": "alice", "password": PASSWORD}
    headers = bearer(app.test_client().post("/auth/login", json=login).get_json()["access_token"])
    racers = 6

    for round_ in range(4):  # the race is narrow; several rounds, each a new resource
        start = threading.Barrier(racers)

        def put(
            _: int,
            path: str = f"/tenants/{acme_id}/resources/invoices/race-{round_}",
            start: threading.Barrier = start,
        ) -> int:
            client = app.test_client()
            start.wait()
            return client.put(path, json={"properties": {"amount": 10}}, headers=headers).status_code

        with ThreadPoolExecutor(racers) as pool:
            statuses = sorted(pool.map(put, range(racers)))

        assert statuses == [200] * (racers - 1) + [201]


def test_a_new_resource_has_one_timestamp_and_a_replace_never_goes_back(client, db, acme, headers):
    """Created and updated are the same instant on creation (they were ~3 ms apart, updated
    first); a replace keeps created_at and moves updated_at, never before it."""
    created = client.put(url(acme), json={"properties": {"amount": 10}}, headers=headers).get_json()
    stored = client.get(url(acme), headers=headers).get_json()
    replaced = client.put(url(acme), json={"properties": {"amount": 12}}, headers=headers).get_json()

    assert created["updated_at"] == created["created_at"]
    assert (stored["created_at"], stored["updated_at"]) == (created["created_at"], created["created_at"])
    assert replaced["created_at"] == created["created_at"]
    assert datetime.fromisoformat(replaced["updated_at"]) >= datetime.fromisoformat(replaced["created_at"])


def test_a_resource_made_without_timestamps_gets_one_instant(db, acme):
    resource = ResourceFactory(tenant=acme)
    db.expire(resource)

    assert resource.updated_at == resource.created_at


def test_a_replace_from_a_clock_behind_the_creators_keeps_updated_at_after_created_at(
    client, db, acme, headers
):
    ahead = utcnow() + timedelta(seconds=30)  # the instance that created it ran ahead
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-1", created_at=ahead, updated_at=ahead)

    replaced = client.put(url(acme), json={"properties": {"amount": 12}}, headers=headers).get_json()

    assert datetime.fromisoformat(replaced["created_at"]) == ahead
    assert datetime.fromisoformat(replaced["updated_at"]) >= ahead
