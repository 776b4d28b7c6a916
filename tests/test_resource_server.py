"""policies.resource_server: a second Flask app (a downstream service) protects its routes
with our tokens against a live server: offline through the JWKS, and online through the
decision API for ownership and immediate revocation."""

from __future__ import annotations

import jwt
import pytest
from flask import Flask

from app import create_app
from policies.resource_server import ResourceServer, current_caller
from tests.conftest import PASSWORD, bearer
from tests.factories import (
    DEFAULT_CLIENT_SECRET,
    ApplicationPermissionFactory,
    ClientFactory,
    ResourceFactory,
    RoleFactory,
    TenantFactory,
    UserFactory,
)
from tests.matrix_world import signed_claims
from tests.servers import serve_in_thread

AUDIENCE = "https://invoices.test"


@pytest.fixture
def authz(make_settings, bind_app, db):
    """Our service, issuing tokens for the invoices service's audience, live on loopback."""
    an_app = bind_app(create_app(make_settings(audience=AUDIENCE), TESTING=True))
    with serve_in_thread(an_app) as base:
        yield an_app, base


@pytest.fixture
def world(db):
    ApplicationPermissionFactory(name="invoices:read", member=True)
    ApplicationPermissionFactory(name="invoices:manage")
    ApplicationPermissionFactory(name="invoices:approve", owner_override="invoices:manage")
    acme = TenantFactory(slug="acme")
    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    bob = UserFactory(tenant=acme, roles=["member", "approver"], username="bob")
    carol = UserFactory(tenant=acme, roles=["member", "approver"], username="carol")
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-1", owner=bob)
    pep = ClientFactory(tenant=acme, client_id="invoices-pep", scopes=["decisions:evaluate"])
    return {"acme": acme, "bob": bob, "carol": carol, "pep": pep, "globex": TenantFactory(slug="globex")}


def log_in(api, user) -> dict:
    response = api.post(
        "/auth/login", json={"tenant": user.tenant.slug, "username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def invoices_service(base: str, pep_token: str, require_typ: str | None) -> Flask:
    """The downstream service: its whole authorization is these lines."""
    rs = ResourceServer(
        issuer="https://authz.test",
        audience=AUDIENCE,
        jwks_url=f"{base}/.well-known/jwks.json",
        decision_url=f"{base}/access/v1/evaluation",
        decision_token=lambda: pep_token,
        require_typ=require_typ,
    )
    service = Flask("invoices")

    @service.get("/tenants/<tid>/invoices")
    @rs.tenant_scoped("invoices:read")
    def list_invoices(tid: str) -> dict:
        return {"tenant": tid, "caller": current_caller().subject}

    @service.post("/tenants/<tid>/invoices/<invoice_id>/approve")
    @rs.tenant_scoped("invoices:approve", resource="invoice_id", online=True)
    def approve(tid: str, invoice_id: str) -> dict:
        return {"approved": invoice_id}

    return service


@pytest.fixture
def downstream(authz, world):
    an_app, base = authz
    api = an_app.test_client()
    pep = api.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=("invoices-pep", DEFAULT_CLIENT_SECRET)
    ).get_json()["access_token"]
    # RFC 9068's `typ: at+jwt` comes with the token-claims branch; checked whenever our tokens carry it.
    typ = str(jwt.get_unverified_header(pep).get("typ", "")).lower()
    return api, invoices_service(base, pep, "at+jwt" if typ == "at+jwt" else None).test_client()


def test_offline_a_member_reads_its_own_tenant_only(downstream, world):
    api, service = downstream
    headers = bearer(log_in(api, world["bob"])["access_token"])

    own = service.get(f"/tenants/{world['acme'].id}/invoices", headers=headers)
    other = service.get(f"/tenants/{world['globex'].id}/invoices", headers=headers)

    assert own.status_code == 200, own.get_json()
    assert own.get_json()["caller"] == str(world["bob"].id)
    assert other.status_code == 404


def test_offline_refuses_missing_refresh_and_foreign_tokens(downstream, world):
    api, service = downstream
    tokens = log_in(api, world["bob"])
    url = f"/tenants/{world['acme'].id}/invoices"
    forged = jwt.encode(
        {"sub": "x", "iss": "https://authz.test", "aud": AUDIENCE}, "not-our-key-" * 4, algorithm="HS256"
    )

    missing = service.get(url)
    refresh = service.get(url, headers=bearer(tokens["refresh_token"]))
    foreign = service.get(url, headers=bearer(forged))

    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert refresh.status_code == 401
    assert foreign.status_code == 401


def test_offline_refuses_a_token_for_another_audience(make_settings, bind_app, world, downstream):
    _, service = downstream
    elsewhere = bind_app(create_app(make_settings(audience="https://other.test"), TESTING=True)).test_client()
    token = log_in(elsewhere, world["bob"])["access_token"]

    assert service.get(f"/tenants/{world['acme'].id}/invoices", headers=bearer(token)).status_code == 401


def test_offline_a_missing_permission_is_403(downstream, world, db):
    api, service = downstream
    dave = UserFactory(tenant=world["acme"], roles=[], username="dave")

    response = service.get(
        f"/tenants/{world['acme'].id}/invoices", headers=bearer(log_in(api, dave)["access_token"])
    )

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["invoices:read"]


def test_online_ownership_is_decided_by_the_decision_api(downstream, world):
    api, service = downstream
    url = f"/tenants/{world['acme'].id}/invoices/inv-1/approve"

    owner = service.post(url, headers=bearer(log_in(api, world["bob"])["access_token"]))
    other = service.post(url, headers=bearer(log_in(api, world["carol"])["access_token"]))

    assert owner.status_code == 200
    assert other.status_code == 403


def test_online_a_role_change_counts_at_once(downstream, world, db):
    api, service = downstream
    headers = bearer(log_in(api, world["bob"])["access_token"])
    url = f"/tenants/{world['acme'].id}/invoices/inv-1/approve"
    assert service.post(url, headers=headers).status_code == 200

    # An admin takes the approver role away; bob's token still verifies offline.
    admin = bearer(log_in(api, UserFactory(tenant=world["acme"], roles=["admin"]))["access_token"])
    api.put(
        f"/tenants/{world['acme'].id}/users/{world['bob'].id}/roles",
        json={"roles": ["member"]},
        headers=admin,
    )

    assert service.get(f"/tenants/{world['acme'].id}/invoices", headers=headers).status_code == 200
    assert service.post(url, headers=headers).status_code == 403


def test_a_token_without_the_rfc_9068_typ_is_refused_when_required(authz, world):
    an_app, base = authz
    token = log_in(an_app.test_client(), world["bob"])["access_token"]
    strict = ResourceServer(
        issuer="https://authz.test", audience=AUDIENCE, jwks_url=f"{base}/.well-known/jwks.json"
    )
    service = Flask("strict")

    @service.get("/x")
    @strict.require("invoices:read")
    def x() -> dict:
        return {}

    header_typ = str(jwt.get_unverified_header(token).get("typ", "")).lower()
    expected = 200 if header_typ == "at+jwt" else 401
    assert service.test_client().get("/x", headers=bearer(token)).status_code == expected


def test_a_partial_token_is_completed_by_the_decision_api(downstream, world, db):
    """A token too large for its application permissions carries `authz_partial`; the
    resource server asks the decision API for what the claim lacks."""
    api, service = downstream
    names = [f"{'x' * 60}{i:02d}:{'y' * 60}" for i in range(40)]
    for name in names:
        ApplicationPermissionFactory(name=name)
    RoleFactory(tenant=world["acme"], name="wide", permissions=names)
    erin = UserFactory(tenant=world["acme"], roles=["member", "wide"], username="erin")
    token = log_in(api, erin)["access_token"]
    assert signed_claims(api.application, token)["authz_partial"] is True

    response = service.get(f"/tenants/{world['acme'].id}/invoices", headers=bearer(token))

    assert response.status_code == 200, response.get_json()
