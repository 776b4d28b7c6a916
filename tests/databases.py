"""Test databases: a SQLite file by default, a fresh PostgreSQL database when
AUTHZ_TEST_DATABASE_URL names a server (the database in that URL is only used to connect)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic.config import Config
from sqlalchemy import create_engine, make_url, text

from alembic import command

ROOT = Path(__file__).resolve().parent.parent


def server_url() -> str | None:
    return os.environ.get("AUTHZ_TEST_DATABASE_URL") or None


def is_postgres() -> bool:
    url = server_url()
    return bool(url and url.startswith("postgresql"))


@contextmanager
def fresh_database(tmp_dir: Path, label: str) -> Iterator[str]:
    """A new, empty database for this run; dropped afterwards."""
    url = server_url()
    if url is None:
        yield f"sqlite:///{tmp_dir / f'{label}.db'}"
        return
    name = f"authz_{label}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
