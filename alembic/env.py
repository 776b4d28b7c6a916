"""Alembic environment: the same settings and engine set-up as the app."""

from __future__ import annotations

from logging.config import fileConfig
from pathlib import Path

from alembic import context
from app.database import make_engine
from app.settings import load_settings
from models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
DEFAULT_SQLITE = Path(__file__).resolve().parent.parent / "instance" / "authz.db"


def database_url() -> str:
    """An explicit `sqlalchemy.url` (tests) wins; then AUTHZ_DATABASE_URL; then the dev file."""
    explicit = config.get_main_option("sqlalchemy.url")
    if explicit:
        return explicit
    url = load_settings().database_url
    if url:
        return url
    DEFAULT_SQLITE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE}"


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
