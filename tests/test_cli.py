"""The CLI: bootstrap (idempotent), demo, and the policy table."""

from __future__ import annotations

from sqlalchemy import func, select

from models import PLATFORM_TENANT_SLUG, Project, Tenant, User
from policies import route_policies


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


def test_policies_command_lists_every_route(app):
    result = app.test_cli_runner().invoke(args=["policies"])

    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == len(route_policies(app))
    assert any("GET /tenants/<uuid:tid>/projects" in line and "projects:read" in line for line in lines)
    assert any("POST /auth/login" in line and "public" in line for line in lines)
