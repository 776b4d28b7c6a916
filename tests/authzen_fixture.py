"""The AuthZEN certification fixture (`certification/authorization-api-1_0-scenario.md` of
openid/authzen, "Required Fixture"), made through our own API only.

Subjects `alice` and `bob` (users), resources `record-1` and `record-2` (type `record`),
actions `read`, `write`, `delete`. Rules 1-4 (Core): alice may read and write record-1,
bob may read it but not write. In our model: application permissions `record:read`,
`record:write`, `record:delete`, custom roles `record-editor` (read, write) for alice and
`record-reader` (read) for bob, and a policy enforcement point: an integration client
holding `decisions:evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask.testing import FlaskClient

from tests.conftest import PASSWORD, bearer
from tests.factories import TenantFactory, UserFactory


@dataclass(frozen=True)
class Fixture:
    tenant_id: str
    pep: dict[str, str]  # the PEP's Authorization header
    operator: dict[str, str]


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json() if response.data else {}


def build(client: FlaskClient, login) -> Fixture:
    platform = TenantFactory(slug="platform", name="Platform")
    operator = bearer(login(UserFactory(tenant=platform, roles=["platform-admin"]))["access_token"])

    for action in ("read", "write", "delete"):
        ok(client.post("/permissions", json={"name": f"record:{action}"}, headers=operator), 201)
    tenant = ok(
        client.post("/tenants", json={"slug": "cert", "name": "Certification"}, headers=operator), 201
    )
    tid = tenant["id"]
    for name, permissions in (
        ("record-editor", ["record:read", "record:write"]),
        ("record-reader", ["record:read"]),
    ):
        role = {"name": name, "description": "", "permissions": permissions}
        ok(client.post(f"/tenants/{tid}/roles", json=role, headers=operator), 201)
    for username, role in (("alice", "record-editor"), ("bob", "record-reader")):
        user = {"username": username, "password": PASSWORD, "roles": ["member", role]}
        ok(client.post(f"/tenants/{tid}/users", json=user, headers=operator), 201)
    for record, status in (("record-1", "active"), ("record-2", "archived")):
        body = {"properties": {"status": status}}
        ok(client.put(f"/tenants/{tid}/resources/record/{record}", json=body, headers=operator), 201)

    pep = ok(
        client.post(
            f"/tenants/{tid}/clients",
            json={"name": "pep", "scopes": ["decisions:evaluate"]},
            headers=operator,
        ),
        201,
    )
    token = ok(
        client.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(pep["client_id"], pep["client_secret"]),
        )
    )
    return Fixture(tid, bearer(token["access_token"]), operator)
