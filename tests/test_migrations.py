"""Alembic owns the schema: models and migrations agree, and the history runs both ways."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.database import make_engine
from models import Base
from tests.databases import downgrade, fresh_database, upgrade


@pytest.fixture
def empty_database(tmp_path):
    with fresh_database(tmp_path, "migrations") as url:
        yield url


def schema_differences(url: str) -> list:
    engine = make_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    return differences


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names


def test_upgrade_from_empty_matches_the_models(empty_database):
    upgrade(empty_database)

    assert schema_differences(empty_database) == []


def test_downgrade_to_base_and_upgrade_again(empty_database):
    upgrade(empty_database)
    downgrade(empty_database, "base")

    assert table_names(empty_database) <= {"alembic_version"}

    upgrade(empty_database)
    assert schema_differences(empty_database) == []
    assert {
        "tenants",
        "users",
        "roles",
        "user_roles",
        "login_sessions",
        "projects",
        "audit_events",
    } <= table_names(empty_database)
