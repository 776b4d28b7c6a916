"""The CLI: bootstrap (idempotent), demo, and the policy table."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.clients.service import hash_client_secret
from app.services import services
from models import PLATFORM_TENANT_SLUG, Client, Project, Tenant, User
from policies import route_policies
from tests.conftest import bearer

# What `demo` prints for each tenant's integration: its slug, then a line a shell can take as
# it is, setting ID and SECRET.
PRINTED_CLIENT = re.compile(r"^  (\S+):\n    ID=(\S+) SECRET=(\S+)$", re.M)


def test_bootstrap_creates_the_platform_admin_once(app, db):
    runner = app.test_cli_runner()

    first = runner.invoke(
        args=["bootstrap", "--username", "root", "--password-stdin"], input="a-very-long-password\n"
    )
    second = runner.invoke(
        args=["bootstrap", "--username", "ROOT", "--password-stdin"], input="a-very-long-password\n"
    )

    assert first.exit_code == 0, first.output
    assert "created platform-admin" in first.output
    assert second.exit_code == 0
    assert "nothing changed" in second.output
    platform = db.scalars(select(Tenant).where(Tenant.slug == PLATFORM_TENANT_SLUG)).one()
    assert db.scalar(select(func.count()).select_from(User).where(User.tenant_id == platform.id)) == 1


def test_bootstrapped_admin_can_log_in_with_platform_permissions(app, client, db):
    app.test_cli_runner().invoke(
        args=["bootstrap", "--username", "root", "--password-stdin"], input="a-very-long-password\n"
    )

    response = client.post(
        "/auth/login", json={"tenant": "platform", "username": "root", "password": "a-very-long-password"}
    )
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {response.get_json()['access_token']}"})

    assert "platform:write" in me.get_json()["permissions"]
    assert me.get_json()["roles"] == ["platform-admin"]


def test_bootstrap_refuses_a_short_password_before_hashing(app, db):
    result = app.test_cli_runner().invoke(
        args=["bootstrap", "--username", "root", "--password-stdin"], input="short\n"
    )

    assert result.exit_code != 0
    assert "at least 12 characters" in result.output


def test_demo_fills_two_tenants_and_prints_logins(app, db):
    result = app.test_cli_runner().invoke(args=["demo"])

    assert result.exit_code == 0, result.output
    assert "curl" in result.output
    slugs = set(db.scalars(select(Tenant.slug)))
    assert {"acme", "globex"} <= slugs
    assert db.scalar(select(func.count()).select_from(Project)) >= 4


def test_demo_users_log_in(app, client, db):
    from app.cli import DEMO_PASSWORD

    app.test_cli_runner().invoke(args=["demo"])

    response = client.post(
        "/auth/login", json={"tenant": "globex", "username": "alice", "password": DEMO_PASSWORD}
    )

    assert response.status_code == 200


def test_demo_makes_one_integration_client_per_tenant_and_prints_its_secret_once(app, db):
    from app.cli import DEMO_CLIENT_SCOPES

    output = app.test_cli_runner().invoke(args=["demo"]).output
    printed = {slug: (cid, secret) for slug, cid, secret in PRINTED_CLIENT.findall(output)}

    assert sorted(printed) == ["acme", "globex"]
    assert db.scalar(select(func.count()).select_from(Client)) == 2
    assert f"scopes {' '.join(sorted(DEMO_CLIENT_SCOPES))};" in output
    for slug, (client_id, secret) in printed.items():
        tenant = db.scalars(select(Tenant).where(Tenant.slug == slug)).one()
        [row] = db.scalars(select(Client).where(Client.tenant_id == tenant.id)).all()
        owner = db.get(User, row.created_by)
        assert (row.client_id, owner.username, row.revoked_at) == (client_id, "alice", None)
        assert row.scopes == sorted(DEMO_CLIENT_SCOPES)
        assert secret not in row.secret_hash  # stored as an HMAC, never as such
        assert row.secret_hash == hash_client_secret(secret, services(app).client_secret_key)
        assert output.count(secret) == 1


def test_the_printed_demo_client_gets_a_token_and_uses_its_scopes(app, client, db):
    from app.cli import DEMO_PASSWORD

    output = app.test_cli_runner().invoke(args=["demo"]).output
    [(client_id, secret)] = [
        (cid, sec) for slug, cid, sec in PRINTED_CLIENT.findall(output) if slug == "acme"
    ]
    acme = db.scalars(select(Tenant).where(Tenant.slug == "acme")).one()
    alice = client.post(
        "/auth/login", json={"tenant": "acme", "username": "alice", "password": DEMO_PASSWORD}
    )

    issued = client.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    token = issued.get_json()["access_token"]
    projects = client.get(f"/tenants/{acme.id}/projects", headers=bearer(token))
    introspected = client.post(
        "/auth/introspect", data={"token": alice.get_json()["access_token"]}, headers=bearer(token)
    )
    users = client.get(f"/tenants/{acme.id}/users", headers=bearer(token))

    assert issued.status_code == 200, issued.get_json()
    assert issued.get_json()["scope"] == "projects:read tokens:introspect"
    assert len(projects.get_json()["items"]) == 2
    assert introspected.get_json()["active"] is True
    assert users.status_code == 403  # narrow: no users:read


def test_demo_run_again_leaves_the_tenants_and_their_clients_as_they_are(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    before = sorted(db.scalars(select(Client.client_id)))

    second = runner.invoke(args=["demo"])

    assert (first.exit_code, second.exit_code) == (0, 0), second.output
    assert sorted(db.scalars(select(Client.client_id))) == before
    assert len(before) == 2
    assert "tenant acme exists; left as it is" in second.output
    assert PRINTED_CLIENT.findall(second.output) == []
    assert "SECRET=" not in second.output


def test_policies_command_lists_every_route(app):
    result = app.test_cli_runner().invoke(args=["policies"])

    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == len(route_policies(app))
    assert any("GET /tenants/<uuid:tid>/projects" in line and "projects:read" in line for line in lines)
    assert any("POST /auth/login" in line and "public" in line for line in lines)


def test_demo_prints_commands_for_the_configured_issuer(app, db):
    """README: when the port changes, AUTHZ_ISSUER names the service's URL; the commands the
    demo prints must reach that service, not the default port."""
    from app.security import settings

    with app.app_context():
        issuer = settings().issuer.rstrip("/")
    assert issuer != "http://127.0.0.1:5000"  # the test settings' issuer, not the default

    output = app.test_cli_runner().invoke(args=["demo"]).output

    assert f"curl -s -X POST {issuer}/auth/login " in output
    assert f"grant_type=client_credentials {issuer}/auth/token" in output
    assert "127.0.0.1:5000" not in output
