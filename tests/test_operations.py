"""Operator endpoints: liveness, readiness (503 when a dependency is down), Prometheus metrics."""

from __future__ import annotations

from app import create_app
from app.services import services
from tests.factories import ProjectFactory, TenantFactory, UserFactory


def test_healthz_answers_while_the_process_lives(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_the_database(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "up"}


def test_readyz_is_503_when_the_database_is_down(make_settings):
    app = create_app(make_settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"), TESTING=True)

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "down"


def test_readyz_is_503_when_redis_is_configured_and_down(make_settings, bind_app, db):
    app = bind_app(create_app(make_settings(redis_url="redis://127.0.0.1:1/0"), TESTING=True))

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "up", "redis": "down"}


def test_metrics_count_requests_by_route_and_denials(client, auth_headers, db):
    acme = TenantFactory()
    bob = UserFactory(tenant=acme, roles=["member"])
    project = ProjectFactory(tenant=acme)
    headers = auth_headers(bob)
    client.get(f"/tenants/{acme.id}/projects", headers=headers)
    client.delete(f"/tenants/{acme.id}/projects/{project.id}", headers=headers)

    text = client.get("/metrics").get_data(as_text=True)

    assert 'authz_http_requests_total{method="GET",route="/tenants/<uuid:tid>/projects",status="200"}' in text
    assert 'authz_policy_denials_total{route="/tenants/<uuid:tid>/projects/<uuid:pid>",status="403"}' in text
    assert str(project.id) not in text  # route templates only: ids never become labels


def test_a_caller_cannot_make_metric_series_with_methods_of_its_own(client, db):
    for method in ("BREW", "PROPFIND", "X-ANYTHING"):
        client.open("/healthz", method=method)

    text = client.get("/metrics").get_data(as_text=True)

    assert 'method="OTHER"' in text
    for method in ("BREW", "PROPFIND", "X-ANYTHING"):
        assert method not in text


def test_a_request_needing_a_down_database_is_a_quick_503(make_settings):
    import time

    app = create_app(make_settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"), TESTING=True)
    started = time.monotonic()

    response = app.test_client().post(
        "/auth/login", json={"tenant": "acme", "username": "bob", "password": "a-long-enough-password"}
    )

    assert response.status_code == 503
    assert response.get_json()["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "5"
    assert time.monotonic() - started < 5


def test_a_write_waiting_on_a_lock_is_a_503_within_the_bound(committing_app, make_settings):
    """A lock held elsewhere (SQLite's write lock, a PostgreSQL row lock) is a bounded wait:
    busy_timeout or lock_timeout, then 503 with Retry-After, never a hung worker."""
    import time

    from sqlalchemy import text

    from app.database import SQLITE_WRITE_OPTION
    from app.provisioning import builtin_role, create_tenant, create_user
    from policies import BuiltinRole
    from tests.conftest import PASSWORD

    engine = services(committing_app).database.engine
    with services(committing_app).database.sessions() as session, session.begin():
        acme = create_tenant(session, "acme", "Acme")
        role = builtin_role(session, acme, BuiltinRole.MEMBER)
        bob = create_user(
            session, acme, "bob", services(committing_app).passwords.hash(PASSWORD), roles=[role]
        )
        bob_id = bob.id
    timeout = 0.5
    url = engine.url.render_as_string(hide_password=False)
    api = create_app(make_settings(database_url=url, database_timeout=timeout), TESTING=True).test_client()
    login = {"tenant": "acme", "username": "bob", "password": PASSWORD}
    with engine.connect() as holder:
        if engine.dialect.name == "sqlite":
            # BEGIN IMMEDIATE (app.database's begin event): the database's one write lock.
            holder.execution_options(**{SQLITE_WRITE_OPTION: True}).begin()
        else:
            holder.begin()
            holder.execute(text("SELECT 1 FROM users WHERE id = :id FOR UPDATE"), {"id": bob_id})
        started = time.monotonic()

        response = api.post("/auth/login", json=login)

        waited = time.monotonic() - started
        holder.rollback()

    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "5"
    assert waited < timeout + 2  # the bound, plus the argon2 verify and the request itself
    assert api.post("/auth/login", json=login).status_code == 200  # the lock gone, served again
