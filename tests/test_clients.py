"""Integration clients: the secret shown once and stored as an HMAC, scopes never beyond the
creator's, revocation and rotation, tenant isolation, audit, and client authentication."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
from sqlalchemy import select

from app.clients import service
from app.clients.service import ClientAuthenticationFailed, FailureReason
from app.services import services
from models import AuditEvent, Client
from tests.factories import RoleFactory, TenantFactory, UserFactory

CLIENT_FIELDS = {
    "id",
    "client_id",
    "name",
    "scopes",
    "created_by",
    "created_at",
    "last_used_at",
    "revoked_at",
}


def clients_url(tenant, cid=None):
    base = f"/tenants/{tenant.id}/clients"
    return base if cid is None else f"{base}/{cid}"


def create(client, headers, tenant, *, name="Deploy bot", scopes=("projects:read",)):
    return client.post(clients_url(tenant), json={"name": name, "scopes": list(scopes)}, headers=headers)


def events(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


# --- creating ----------------------------------------------------------------------------


def test_admin_creates_a_client_and_sees_its_secret_once(client, db, acme, admin, auth_headers):
    headers = auth_headers(admin)

    response = create(client, headers, acme, scopes=["projects:write", "projects:read"])

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == CLIENT_FIELDS | {"client_secret"}
    assert body["client_id"].startswith("cli_")
    assert body["scopes"] == ["projects:read", "projects:write"]
    assert body["last_used_at"] is None
    assert body["revoked_at"] is None
    assert len(body["client_secret"]) >= 43  # 32 random bytes, base64url
    listed = client.get(clients_url(acme), headers=headers).get_json()["items"]
    assert [set(item) for item in listed] == [CLIENT_FIELDS]
    assert body["client_secret"] not in json.dumps(listed)


def test_the_secret_is_stored_only_as_an_hmac_under_the_client_secret_key(
    client, db, app, acme, admin, auth_headers
):
    body = create(client, auth_headers(admin), acme).get_json()

    stored = db.scalars(select(Client).where(Client.client_id == body["client_id"])).one()

    key = services(app).client_secret_key
    assert stored.secret_hash == hmac.new(key, body["client_secret"].encode(), hashlib.sha256).hexdigest()
    assert body["client_secret"] not in stored.secret_hash
    assert stored.created_by == admin.id
    assert stored.authz_version == 1


def test_creation_is_audited_without_the_secret(client, db, acme, admin, auth_headers):
    body = create(client, auth_headers(admin), acme).get_json()

    (event,) = events(db, "client.created")

    assert event.tenant_id == acme.id
    assert event.actor_id == str(admin.id)
    assert event.target_id == body["id"]
    assert event.details == {
        "client_id": body["client_id"],
        "name": "Deploy bot",
        "scopes": ["projects:read"],
    }
    assert body["client_secret"] not in json.dumps(event.details)


def test_a_client_may_hold_no_scope(client, acme, admin, auth_headers):
    response = create(client, auth_headers(admin), acme, scopes=[])

    assert response.status_code == 201
    assert response.get_json()["scopes"] == []


def test_nobody_creates_a_client_with_scopes_they_do_not_hold(client, db, acme, auth_headers):
    integrator = RoleFactory(
        tenant=acme, name="integrator", permissions=["clients:write", "clients:read", "projects:read"]
    )
    carol = UserFactory(tenant=acme, roles=[integrator.name])
    headers = auth_headers(carol)

    escalating = create(client, headers, acme, scopes=["projects:read", "users:write", "roles:write"])
    within = create(client, headers, acme, scopes=["projects:read"])

    assert escalating.status_code == 403
    assert escalating.get_json()["required_permissions"] == ["roles:write", "users:write"]
    assert within.status_code == 201
    assert len(db.scalars(select(Client)).all()) == 1


@pytest.mark.parametrize("scope", ["platform:read", "platform:write"])
def test_platform_scopes_are_refused_outside_the_platform_tenant_even_to_a_platform_admin(
    client, acme, auth_headers, scope
):
    operator = UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"])

    response = create(client, auth_headers(operator), acme, scopes=[scope])

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "scopes"


def test_platform_scopes_can_be_given_to_a_platform_client(client, db, auth_headers):
    platform = TenantFactory(slug="platform")
    operator = UserFactory(tenant=platform, roles=["platform-admin"])

    response = create(client, auth_headers(operator), platform, scopes=["platform:read"])

    assert response.status_code == 201
    assert response.get_json()["scopes"] == ["platform:read"]


def test_a_platform_admin_creates_a_client_in_another_tenant(client, db, acme, auth_headers):
    operator = UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"])

    response = create(client, auth_headers(operator), acme, scopes=["users:read"])

    assert response.status_code == 201
    assert db.scalars(select(Client)).one().tenant_id == acme.id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": ["projects:read", "no:such"]}, "scopes"),
        ({"name": "x", "scopes": ["projects:read", "projects:read"]}, "scopes"),
        ({"name": "x", "scopes": "projects:read"}, "scopes"),
        ({"name": "", "scopes": []}, "name"),
        ({"name": "x\u202e", "scopes": []}, "name"),
        ({"scopes": []}, "name"),
        ({"name": "x"}, "scopes"),
        ({"name": "x", "scopes": [], "secret_hash": "0" * 64}, "secret_hash"),
        ({"name": "x", "scopes": [], "client_id": "cli_mine"}, "client_id"),
    ],
)
def test_invalid_bodies_are_refused_field_by_field(client, acme, admin, auth_headers, body, field):
    response = client.post(clients_url(acme), json=body, headers=auth_headers(admin))

    assert response.status_code == 422
    assert field in {e["field"] for e in response.get_json()["errors"]}


def test_a_member_can_neither_list_nor_create_clients(client, acme, auth_headers):
    headers = auth_headers(UserFactory(tenant=acme, roles=["member"]))

    listing = client.get(clients_url(acme), headers=headers)
    creating = create(client, headers, acme)

    assert listing.status_code == creating.status_code == 403
    assert listing.get_json()["required_permissions"] == ["clients:read"]
    assert creating.get_json()["required_permissions"] == ["clients:write"]


# --- listing -----------------------------------------------------------------------------


def test_the_list_is_paginated_and_holds_only_the_tenants_clients(client, acme, admin, auth_headers):
    globex = TenantFactory(slug="globex")
    create(client, auth_headers(UserFactory(tenant=globex, roles=["admin"])), globex, name="Globex bot")
    headers = auth_headers(admin)
    created = [create(client, headers, acme, name=f"bot {i}").get_json()["id"] for i in range(3)]

    first = client.get(clients_url(acme) + "?limit=2", headers=headers).get_json()
    second = client.get(
        clients_url(acme) + f"?limit=2&cursor={first['next_cursor']}", headers=headers
    ).get_json()

    assert [c["id"] for c in first["items"] + second["items"]] == created
    assert second["next_cursor"] is None


def test_another_tenants_clients_are_a_404(client, acme, admin, auth_headers):
    globex = TenantFactory(slug="globex")

    response = client.get(clients_url(globex), headers=auth_headers(admin))

    assert response.status_code == 404


# --- revoking ----------------------------------------------------------------------------


def test_revoking_sets_revoked_at_and_is_audited_once(client, db, acme, admin, auth_headers):
    headers = auth_headers(admin)
    created = create(client, headers, acme).get_json()

    first = client.delete(clients_url(acme, created["id"]), headers=headers)
    again = client.delete(clients_url(acme, created["id"]), headers=headers)

    assert first.status_code == again.status_code == 204
    (listed,) = client.get(clients_url(acme), headers=headers).get_json()["items"]
    assert listed["revoked_at"] is not None
    (event,) = events(db, "client.revoked")
    assert event.target_id == created["id"]
    assert event.actor_id == str(admin.id)


def test_a_revoked_client_gets_no_new_secret(client, acme, admin, auth_headers):
    headers = auth_headers(admin)
    created = create(client, headers, acme).get_json()
    client.delete(clients_url(acme, created["id"]), headers=headers)

    response = client.post(clients_url(acme, created["id"]) + "/secret", headers=headers)

    assert response.status_code == 409
    assert response.get_json()["code"] == "conflict"


def test_another_tenants_client_is_a_404_exactly_like_a_missing_one(client, db, acme, admin, auth_headers):
    globex = TenantFactory(slug="globex")
    foreign = create(client, auth_headers(UserFactory(tenant=globex, roles=["admin"])), globex).get_json()
    headers = auth_headers(admin)

    answers = [
        client.delete(clients_url(acme, foreign["id"]), headers=headers),
        client.delete(clients_url(acme, uuid.uuid4()), headers=headers),
        client.post(clients_url(acme, foreign["id"]) + "/secret", headers=headers),
        client.post(clients_url(acme, uuid.uuid4()) + "/secret", headers=headers),
    ]

    assert {a.status_code for a in answers} == {404}
    assert len({json.dumps(a.get_json(), sort_keys=True) for a in answers}) == 1
    stored = db.scalars(select(Client).where(Client.client_id == foreign["client_id"])).one()
    assert stored.revoked_at is None
    assert stored.authz_version == 1


# --- rotating ----------------------------------------------------------------------------


def test_rotation_answers_a_new_secret_once_and_bumps_the_authz_version(
    client, db, acme, admin, auth_headers
):
    headers = auth_headers(admin)
    created = create(client, headers, acme).get_json()
    old_hash = db.scalars(select(Client.secret_hash).where(Client.id == uuid.UUID(created["id"]))).one()

    response = client.post(clients_url(acme, created["id"]) + "/secret", headers=headers)

    assert response.status_code == 200
    rotated = response.get_json()
    assert set(rotated) == CLIENT_FIELDS | {"client_secret"}
    assert rotated["client_id"] == created["client_id"]
    assert rotated["client_secret"] != created["client_secret"]
    db.expire_all()
    stored = db.scalars(select(Client).where(Client.id == uuid.UUID(created["id"]))).one()
    assert stored.secret_hash != old_hash
    assert stored.authz_version == 2
    assert stored.secret_rotated_at is not None
    (event,) = events(db, "client.secret.rotated")
    assert event.details == {"client_id": created["client_id"]}
    assert rotated["client_secret"] not in json.dumps(event.details)


def test_rotating_hands_out_the_scopes_so_the_rotator_must_hold_them(client, acme, admin, auth_headers):
    created = create(client, auth_headers(admin), acme, scopes=["users:write"]).get_json()
    integrator = RoleFactory(tenant=acme, name="integrator", permissions=["clients:write"])
    carol = UserFactory(tenant=acme, roles=[integrator.name])

    response = client.post(clients_url(acme, created["id"]) + "/secret", headers=auth_headers(carol))

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["users:write"]


# --- authenticate_client (the service, without HTTP) ----------------------------------------


@pytest.fixture
def issued(client, acme, admin, auth_headers):
    """A client made through the API, with its secret."""
    return create(client, auth_headers(admin), acme).get_json()


def authenticate(app, db, client_id, secret):
    key = services(app).client_secret_key
    client, _tenant = service.authenticate_client(
        db, client_id=client_id, client_secret=secret, secret_key=key
    )
    return client


def test_authenticate_client_returns_the_client_for_its_secret(app, db, issued):
    found = authenticate(app, db, issued["client_id"], issued["client_secret"])

    assert str(found.id) == issued["id"]


@pytest.mark.parametrize(
    ("client_id", "secret", "reason"),
    [
        ("right", "wrong", FailureReason.WRONG_SECRET),
        ("cli_unknown", "right", FailureReason.UNKNOWN_CLIENT),
        ("x" * 300, "right", FailureReason.UNKNOWN_CLIENT),
    ],
)
def test_authenticate_client_refuses_with_a_reason(app, db, issued, client_id, secret, reason):
    client_id = issued["client_id"] if client_id == "right" else client_id
    secret = issued["client_secret"] if secret == "right" else secret

    with pytest.raises(ClientAuthenticationFailed) as refused:
        authenticate(app, db, client_id, secret)

    assert refused.value.reason is reason


def test_authenticate_client_refuses_a_revoked_client_and_a_suspended_tenant(app, db, acme, issued):
    stored = db.scalars(select(Client).where(Client.client_id == issued["client_id"])).one()
    acme.status = "suspended"
    db.flush()
    with pytest.raises(ClientAuthenticationFailed) as suspended:
        authenticate(app, db, issued["client_id"], issued["client_secret"])
    stored.revoked_at = stored.created_at
    db.flush()
    with pytest.raises(ClientAuthenticationFailed) as revoked:
        authenticate(app, db, issued["client_id"], issued["client_secret"])

    assert suspended.value.reason is FailureReason.TENANT_SUSPENDED
    assert revoked.value.reason is FailureReason.REVOKED_CLIENT


def test_an_unknown_client_costs_one_hmac_like_a_known_one(app, db, issued, monkeypatch):
    calls = []
    real = service.hash_client_secret
    monkeypatch.setattr(service, "hash_client_secret", lambda *a: calls.append(1) or real(*a))

    for client_id in ("cli_unknown", issued["client_id"]):
        with pytest.raises(ClientAuthenticationFailed):
            authenticate(app, db, client_id, "wrong")

    assert len(calls) == 2
