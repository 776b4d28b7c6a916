"""Test set-up: the schema made once by `alembic upgrade head`, every test inside a
transaction rolled back at its end (each request's commit is a savepoint)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from app import create_app
from app.services import services
from app.settings import Settings
from models import Tenant, User
from tests import factories, hypothesis_profiles  # noqa: F401 (registers and loads the profile)
from tests.databases import fresh_database, is_postgres, upgrade
from tests.querycount import QueryCounter
from tests.servers import CLIENT_SECRET_KEY

PASSWORD = factories.DEFAULT_PASSWORD
# The suite logs in thousands of times from 127.0.0.1: its apps get limits nobody reaches.
# tests/security/test_abuse_*.py build apps with the real defaults (`real_limits`).
GENEROUS_LIMITS: dict[str, Any] = {
    "login_limit_per_address": "100000 per minute",
    "login_limit_per_account": "100000 per minute",
    "token_limit_per_address": "100000 per minute",
    "token_limit_per_client": "100000 per minute",
    "password_change_limit_per_session": "100000 per minute",
    "introspect_limit_per_caller": "100000 per minute",
    "refresh_limit_per_session": "100000 per minute",
    "login_backoff_free_failures": 1000,
}


def real_limits() -> dict[str, Any]:
    """The shipped defaults of every setting GENEROUS_LIMITS loosens."""
    return {name: Settings.model_fields[name].default for name in GENEROUS_LIMITS}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db"), "test") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def make_settings(database_url: str, key_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "key_dir": key_dir,
            "issuer": "https://authz.test",
            "client_secret_key": CLIENT_SECRET_KEY,  # given: nothing is written into instance/
            **GENEROUS_LIMITS,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture(scope="session")
def app(make_settings: Callable[..., Settings]) -> Flask:
    return create_app(make_settings(), TESTING=True)


@pytest.fixture(scope="session")
def engine(app: Flask) -> Engine:
    return services(app).database.engine


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One connection per test, in a transaction that is rolled back at the end."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def bind_app(connection: Connection) -> Callable[[Flask], Flask]:
    """Point an app's sessions at the test's connection (any app built in the test)."""

    def bind(an_app: Flask) -> Flask:
        services(an_app).database.bind_to(connection)
        return an_app

    return bind


@pytest.fixture
def db(app: Flask, bind_app: Callable[[Flask], Flask], connection: Connection) -> Iterator[Session]:
    """The session the factories write with; requests see its flushed rows."""
    bind_app(app)
    # Each test's epoch bumps are rolled back with it: a catalog cached by the last one is not ours.
    services(app).catalog_cache.clear()
    services(app).subject_cache.clear()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    factories.bind(session, app)
    yield session
    session.close()
    factories.unbind()


# The tenants and people most tests speak of: `acme` with its administrator Alice, `globex`
# next door, and the platform tenant with its operator.


@pytest.fixture
def acme(db: Session) -> Tenant:
    return factories.TenantFactory(slug="acme")


@pytest.fixture
def globex(db: Session) -> Tenant:
    return factories.TenantFactory(slug="globex")


@pytest.fixture
def platform(db: Session) -> Tenant:
    return factories.TenantFactory(slug="platform")


@pytest.fixture
def admin(acme: Tenant) -> User:
    """Alice, an administrator of acme."""
    return factories.UserFactory(tenant=acme, username="alice", admin=True)


@pytest.fixture
def operator(platform: Tenant) -> User:
    """A platform administrator."""
    return factories.UserFactory(tenant=platform, roles=["platform-admin"])


@pytest.fixture
def client(app: Flask, db: Session) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_client(bind_app: Callable[[Flask], Flask], db: Session) -> Callable[..., FlaskClient]:
    """A client of a freshly built app with other settings, on the same test transaction."""

    def make(settings: Settings) -> FlaskClient:
        return bind_app(create_app(settings, TESTING=True)).test_client()

    return make


@pytest.fixture
def committing_app(tmp_path: Path, make_settings: Callable[..., Settings]) -> Iterator[Flask]:
    """An app on a fresh database of its own whose requests really commit: for races and
    anything that needs several connections (threads, processes). Seed it through
    `services(committing_app).database.sessions()` and commit."""
    with fresh_database(tmp_path, "committing") as url:
        upgrade(url)
        committing = create_app(make_settings(database_url=url), TESTING=True)
        yield committing
        services(committing).database.engine.dispose()


@pytest.fixture
def postgres_app(committing_app: Flask) -> Flask:
    """`committing_app` for behaviour only PostgreSQL has (its types, its locks)."""
    if not is_postgres():
        pytest.skip("PostgreSQL-specific: set AUTHZ_TEST_DATABASE_URL to a PostgreSQL server (CI does)")
    return committing_app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def login(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """Log a factory user in through the real endpoint; returns the token response."""

    def do_login(user: Any, password: str = PASSWORD, *, api: FlaskClient | None = None) -> dict[str, Any]:
        response = (api or client).post(
            "/auth/login",
            json={"tenant": user.tenant.slug, "username": user.username, "password": password},
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return do_login


@pytest.fixture
def auth_headers(login: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, str]]:
    def headers_for(user: Any) -> dict[str, str]:
        return bearer(login(user)["access_token"])

    return headers_for


@pytest.fixture
def count_queries(engine: Engine) -> Iterator[QueryCounter]:
    counter = QueryCounter()
    event.listen(engine, "before_cursor_execute", counter.on_execute)
    yield counter
    event.remove(engine, "before_cursor_execute", counter.on_execute)


@pytest.fixture(scope="session")
def own_postgres() -> Iterator[Any]:
    """A PostgreSQL cluster of the fault tests' own (never the shared one), on a free port."""
    from tests.faults import OwnPostgres, require_postgres_binaries

    cluster = OwnPostgres(require_postgres_binaries())
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def own_redis() -> Iterator[Any]:
    """A Redis of the test's own on a free port, to kill, pause and restore."""
    from tests.faults import OwnRedis, require_redis_binary

    server = OwnRedis(require_redis_binary())
    server.start()
    yield server
    server.destroy()
