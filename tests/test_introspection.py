"""RFC 7662 introspection at POST /auth/introspect, revocation-aware and tenant-isolated."""

from __future__ import annotations

import base64
import uuid

import pytest
from sqlalchemy import select

from app.metrics import INTROSPECTIONS
from models import AuditEvent, Client, Role
from tests.conftest import bearer
from tests.factories import DEFAULT_CLIENT_SECRET, ClientFactory, TenantFactory, UserFactory

# RFC 7662 §2.1: the protected resource is authorized to introspect; here, by this scope.
INTROSPECT = ["tokens:introspect"]


def basic(client_row):
    raw = f"{client_row.client_id}:{DEFAULT_CLIENT_SECRET}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def introspector(tenant, **kwargs):
    """A client allowed to introspect its tenant's tokens."""
    return ClientFactory(tenant=tenant, scopes=["tokens:introspect"], **kwargs)


def introspect(client, token, headers):
    return client.post("/auth/introspect", data={"token": token}, headers=headers)


def test_a_client_sees_an_active_token_of_its_tenant(client, acme, login):
    user = UserFactory(tenant=acme, roles=["member"])
    token = login(user)["access_token"]

    response = introspect(client, token, basic(introspector(acme)))

    body = response.get_json()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["active"] is True
    assert body["sub"] == str(user.id)
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "projects:read projects:write roles:read tenant:read users:read"
    assert body["tenant_id"] == str(acme.id)


def test_another_tenants_token_is_simply_inactive(client, acme, login):
    foreign_token = login(UserFactory(tenant=TenantFactory()))["access_token"]

    body = introspect(client, foreign_token, basic(introspector(acme))).get_json()

    assert body == {"active": False}


def test_a_revoked_token_is_inactive_at_once(client, acme, login):
    tokens = login(UserFactory(tenant=acme))
    client.post("/auth/logout", headers=bearer(tokens["access_token"]))

    body = introspect(client, tokens["access_token"], basic(introspector(acme))).get_json()

    assert body == {"active": False}


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""], ids=["garbage", "three dots", "empty"])
def test_anything_that_does_not_verify_is_inactive_or_refused(client, acme, token):
    response = introspect(client, token, basic(introspector(acme)))

    if token:
        assert response.get_json() == {"active": False}
    else:
        assert response.status_code == 400
        assert response.get_json()["error"] == "invalid_request"


def test_a_platform_operator_sees_every_tenant(client, login):
    operator = UserFactory(tenant=TenantFactory(slug="platform"), roles=["platform-admin"])
    token = login(UserFactory(tenant=TenantFactory()))["access_token"]

    body = introspect(client, token, bearer(login(operator)["access_token"])).get_json()

    assert body["active"] is True


def test_a_member_token_may_not_introspect(client, acme, login):
    member = UserFactory(tenant=acme, roles=["member"])
    headers = bearer(login(member)["access_token"])

    response = introspect(client, login(member)["access_token"], headers)

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["platform:read"]


def test_an_unauthenticated_caller_is_refused(client):
    response = introspect(client, "whatever", {})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_a_wrong_client_secret_is_refused(client, acme):
    row = introspector(acme)
    raw = f"{row.client_id}:wrong-secret".encode()

    response = introspect(client, "whatever", {"Authorization": "Basic " + base64.b64encode(raw).decode()})

    assert response.status_code == 401


def test_a_client_token_introspects_with_its_client_id(client, acme):
    row = ClientFactory(tenant=acme, scopes=["projects:read", "tokens:introspect"])
    issued = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "projects:read"},
        headers=basic(row),
    ).get_json()

    body = introspect(
        client, issued["access_token"], basic(ClientFactory(tenant=acme, scopes=INTROSPECT))
    ).get_json()

    assert body["active"] is True
    assert body["client_id"] == row.client_id
    assert body["scope"] == "projects:read"


def test_a_client_without_tokens_introspect_is_refused_by_its_declared_policy(client, acme, login):
    token = login(UserFactory(tenant=acme, roles=["member"]))["access_token"]

    response = introspect(client, token, basic(ClientFactory(tenant=acme, scopes=["projects:read"])))

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["tokens:introspect"]


def test_the_introspection_policy_is_declared(app):
    from policies import route_policies

    [entry] = [e for e in route_policies(app) if e.endpoint == "oauth.introspect"]

    assert entry.policy.client_scope == "tokens:introspect"
    assert entry.policy.permissions == {"platform:read"}


# --- review finding 9: who may introspect, metrics, audit, last_used_at ----------------------


def events(db, action):
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_a_client_without_tokens_introspect_is_refused_and_audited(client, db, acme, login):
    token = login(UserFactory(tenant=acme))["access_token"]
    nosy = ClientFactory(tenant=acme, scopes=[])

    response = introspect(client, token, basic(nosy))

    assert response.status_code == 403
    problem = response.get_json()
    assert problem["required_permissions"] == ["tokens:introspect"]
    event = db.get(AuditEvent, uuid.UUID(problem["decision_id"]))
    assert (event.action, event.actor_type, event.actor_id) == ("access.denied", "client", nosy.client_id)
    assert "sub" not in problem


def test_the_scope_counts_only_while_the_owner_holds_it(client, db, acme, login):
    owner = UserFactory(tenant=acme, roles=["admin"])
    row = introspector(acme, owner=owner)
    token = login(UserFactory(tenant=acme))["access_token"]
    assert introspect(client, token, basic(row)).status_code == 200
    owner_role = db.scalars(select(Role).where(Role.tenant_id == acme.id, Role.name == "member")).one()
    owner.memberships[0].role_id = owner_role.id
    db.flush()

    response = introspect(client, token, basic(row))

    assert response.status_code == 403


def test_each_caller_is_audited_at_most_once_a_minute(client, db, acme, login):
    token = login(UserFactory(tenant=acme))["access_token"]
    first, second = introspector(acme), introspector(acme)

    for _ in range(3):
        introspect(client, token, basic(first))
    introspect(client, "garbage", basic(second))

    recorded = events(db, "auth.token.introspected")
    assert sorted(e.actor_id for e in recorded) == sorted([first.client_id, second.client_id])
    assert {e.actor_id: e.details for e in recorded} == {
        first.client_id: {"active": True},
        second.client_id: {"active": False},
    }


def test_another_worker_recording_within_the_minute_is_enough(client, db, app, acme, login):
    from app.auth import introspection as service

    token = login(UserFactory(tenant=acme))["access_token"]
    caller = introspector(acme)
    introspect(client, token, basic(caller))
    service._throttle._last.clear()  # as if the next request reached another worker

    introspect(client, token, basic(caller))

    assert len(events(db, "auth.token.introspected")) == 1


def test_introspections_are_counted_in_the_metrics(client, acme, login):
    token = login(UserFactory(tenant=acme))["access_token"]
    caller = introspector(acme)

    def counted(active):
        return INTROSPECTIONS.labels("client", active)._value.get()

    before = (counted("true"), counted("false"))
    introspect(client, token, basic(caller))
    introspect(client, "garbage", basic(caller))

    assert (counted("true"), counted("false")) == (before[0] + 1, before[1] + 1)
    exposition = client.get("/metrics").get_data(as_text=True)
    assert 'authz_token_introspections_total{active="true",caller="client"}' in exposition


# --- a client's own access token (RFC 7662 §2.1: client authentication or a bearer token) ---


def client_token(client, row, scope=None):
    """An access token of `row` from POST /auth/token (all its scopes unless `scope`)."""
    data = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    response = client.post("/auth/token", data=data, headers=basic(row))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def test_a_clients_access_token_holding_tokens_introspect_introspects(client, acme, login):
    user = UserFactory(tenant=acme, roles=["member"])
    gateway = bearer(client_token(client, introspector(acme)))

    response = introspect(client, login(user)["access_token"], gateway)

    body = response.get_json()
    assert response.status_code == 200, body
    assert response.headers["Cache-Control"] == "no-store"
    assert (body["active"], body["sub"], body["tenant_id"]) == (True, str(user.id), str(acme.id))


def test_a_clients_access_token_sees_only_its_own_tenants_tokens(client, acme, login):
    foreign_token = login(UserFactory(tenant=TenantFactory(), roles=["admin"]))["access_token"]
    gateway = bearer(client_token(client, introspector(acme)))

    body = introspect(client, foreign_token, gateway).get_json()

    assert body == {"active": False}


def test_a_clients_access_token_without_tokens_introspect_is_refused_and_audited(client, db, acme, login):
    row = ClientFactory(tenant=acme, scopes=["projects:read", "tokens:introspect"])
    narrowed = bearer(client_token(client, row, scope="projects:read"))
    token = login(UserFactory(tenant=acme))["access_token"]

    response = introspect(client, token, narrowed)

    problem = response.get_json()
    assert response.status_code == 403
    assert problem["required_permissions"] == ["tokens:introspect"]
    event = db.get(AuditEvent, uuid.UUID(problem["decision_id"]))
    assert (event.action, event.actor_type, event.actor_id) == ("access.denied", "client", row.client_id)
    assert "sub" not in problem


def test_a_users_token_holding_tokens_introspect_is_still_refused(client, acme, login):
    """The contract names clients: a user's token needs platform:read."""
    admin = UserFactory(tenant=acme, roles=["admin"])  # holds every tenant permission, tokens:introspect too
    headers = bearer(login(admin)["access_token"])

    response = introspect(client, login(admin)["access_token"], headers)

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["platform:read"]


def test_a_clients_access_token_is_bounded_by_its_owner_now(client, db, acme, login):
    owner = UserFactory(tenant=acme, roles=["admin"])
    row = introspector(acme, owner=owner)
    gateway = bearer(client_token(client, row))
    token = login(UserFactory(tenant=acme))["access_token"]
    assert introspect(client, token, gateway).status_code == 200
    admin = bearer(login(UserFactory(tenant=acme, roles=["admin"]))["access_token"])
    demoted = client.put(
        f"/tenants/{acme.id}/users/{owner.id}/roles", json={"roles": ["member"]}, headers=admin
    )
    assert demoted.status_code == 200, demoted.get_json()

    stale = introspect(client, token, gateway)
    fresh = introspect(client, token, bearer(client_token(client, row)))

    assert (stale.status_code, stale.get_json()["code"]) == (401, "token_revoked")
    assert fresh.status_code == 403  # its owner holds tokens:introspect no more
    assert fresh.get_json()["required_permissions"] == ["tokens:introspect"]


@pytest.mark.parametrize("by", ["credentials", "own access token"])
def test_introspection_touches_only_the_callers_last_used_at(client, db, acme, by):
    watched = ClientFactory(tenant=acme, scopes=["projects:read"])
    issued = client_token(client, watched)
    caller = introspector(acme)
    headers = basic(caller) if by == "credentials" else bearer(client_token(client, caller))

    body = introspect(client, issued, headers).get_json()

    db.expire_all()
    assert body["active"] is True
    assert db.get(Client, watched.id).last_used_at is None
    assert db.get(Client, caller.id).last_used_at is not None


def test_a_clients_access_token_is_audited_at_most_once_a_minute_and_counted(client, db, acme, login):
    token = login(UserFactory(tenant=acme))["access_token"]
    caller = introspector(acme)
    gateway = bearer(client_token(client, caller))
    before = INTROSPECTIONS.labels("client", "true")._value.get()

    for _ in range(3):
        assert introspect(client, token, gateway).status_code == 200

    recorded = events(db, "auth.token.introspected")
    assert [(e.actor_type, e.actor_id, e.details) for e in recorded] == [
        ("client", caller.client_id, {"active": True})
    ]
    assert INTROSPECTIONS.labels("client", "true")._value.get() == before + 3


def test_the_introspection_policy_admits_a_clients_own_token(app):
    from policies import route_policies

    [entry] = [e for e in route_policies(app) if e.endpoint == "oauth.introspect"]
    table = app.test_cli_runner().invoke(args=["policies"]).output
    [line] = [line for line in table.splitlines() if line.startswith("POST /auth/introspect ")]
    operation = app.api_doc["paths"]["/auth/introspect"]["post"]

    assert entry.policy.client_scope == "tokens:introspect"
    assert "client (its credentials or its own access token) with scope tokens:introspect" in line
    assert operation["x-client-scope"] == "tokens:introspect"
    assert operation["x-permissions"] == ["platform:read"]
    assert "its own access token" in operation["description"]


def test_a_refresh_token_never_shows_permissions_it_does_not_confer(client, db, acme, login):
    """A refresh token outlives a role change (it refreshes into the user's roles of that
    moment), so the roles and permissions written into it are stale at once: an answer
    showing them, as `scope` above all, would tell a resource server that the token grants
    what no request made with it is ever allowed (RFC 7662 §2.2, API.md immediate effect)."""
    user = UserFactory(tenant=acme, roles=["admin"])
    refresh_token = login(user)["refresh_token"]
    user.authz_version += 1  # what a role change does (admin to member, say)
    db.flush()

    body = introspect(client, refresh_token, basic(introspector(acme))).get_json()

    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["sub"] == str(user.id)
    assert "scope" not in body
    assert "permissions" not in body
    assert "roles" not in body
