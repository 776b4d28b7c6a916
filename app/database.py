"""The database: one engine per app, one session per request, explicit units of work."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from flask import Flask, g
from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import UpdateBase

from app.database_bounds import CONNECT_TIMEOUT_SECONDS, bound_waits, postgres_connect_args
from app.errors import Conflict
from app.services import services
from policies.problems import Problem

SQLITE_WRITE_OPTION = "authz_sqlite_write"
# Our pysqlite recipe already leaves the driver in autocommit: reads just skip our BEGIN.
# (SQLAlchemy's AUTOCOMMIT isolation level would work too, but resetting it when the
# connection returns to the pool hands transaction control back to pysqlite.)
SQLITE_READ_OPTION = "authz_sqlite_read"
# The session.info key naming the transaction begun for writing (begin_for_writing).
WRITE_TRANSACTION = "authz.write_transaction"
DEFAULT_SQLITE_BUSY_SECONDS = 5.0
# Autocommit readers kept between requests (each holds a pool slot).
MAX_IDLE_READERS = 4


class DatabaseUnavailable(Problem):
    status = 503
    code = "service_unavailable"
    title = "Service Unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


class Database:
    def __init__(self, url: str, timeout: float | None = None) -> None:
        self.engine = make_engine(url, timeout)
        # How a request's session reads outside a transaction (db_session).
        self.read_options: dict[str, Any] = (
            {SQLITE_READ_OPTION: True} if url.startswith("sqlite") else {"isolation_level": "AUTOCOMMIT"}
        )
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        self._bound: Connection | None = None
        # Autocommit connections for `read_one`, shared by threads or greenlets alike.
        self._readers: list[Any] = []
        self._readers_lock = threading.Lock()

    @property
    def bound(self) -> Connection | None:
        """The connection every session joins (tests), or None."""
        return self._bound

    def bind_to(self, connection: Connection) -> None:
        """Make every session join `connection`'s transaction in a savepoint (used by tests)."""
        self.sessions.configure(bind=connection, join_transaction_mode="create_savepoint")
        self._bound = connection

    def read_one(self, sql: str) -> Any:
        """The single value of a one-row read, outside any transaction.

        For the per-request revocation epoch: a few connections kept in autocommit mode
        answer it without a session, a pool checkout or BEGIN/ROLLBACK round trips.
        """
        if self._bound is not None:
            return self._bound.exec_driver_sql(sql).scalar_one()
        reader = self._take_reader()
        if reader is not None:
            try:
                return self._read_and_keep(reader, sql)
            except self.engine.dialect.loaded_dbapi.Error:
                # A connection that went stale (the server restarted): one fresh try, so a
                # database that came back serves the very next request.
                reader.invalidate()
        reader = self._autocommit_connection()
        try:
            return self._read_and_keep(reader, sql)
        except self.engine.dialect.loaded_dbapi.Error:
            reader.invalidate()
            raise DatabaseUnavailable("The database is not answering.") from None

    def _read_and_keep(self, reader: Any, sql: str) -> Any:
        cursor = reader.cursor()
        cursor.execute(sql)
        (value,) = cursor.fetchone()
        cursor.close()
        self._give_back(reader)
        return value

    def _take_reader(self) -> Any:
        with self._readers_lock:
            return self._readers.pop() if self._readers else None

    def _give_back(self, reader: Any) -> None:
        with self._readers_lock:
            if len(self._readers) < MAX_IDLE_READERS:
                self._readers.append(reader)
                return
        driver = reader.driver_connection
        if hasattr(driver, "autocommit"):
            driver.autocommit = False  # back to the pool as SQLAlchemy expects its connections
        reader.close()

    def _autocommit_connection(self) -> Any:
        try:
            connection = self.engine.raw_connection()
        except (DBAPIError, PoolTimeout, self.engine.dialect.loaded_dbapi.Error):
            # raw_connection() raises the driver's own errors (psycopg's), not SQLAlchemy's;
            # every slot of the pool busy past the bound is an outage too.
            raise DatabaseUnavailable("The database is not answering.") from None
        driver: Any = connection.driver_connection  # the DB-API driver's own connection
        if hasattr(driver, "autocommit"):
            driver.autocommit = True  # psycopg; SQLite connections are autocommit already (recipe)
        return connection


def make_engine(url: str, timeout: float | None = None) -> Engine:
    """An engine whose every wait gives up after `timeout` seconds (None: migrations, which
    may legitimately run long, wait as long as their statements take)."""
    if url.startswith("sqlite"):
        # A file's pool (QueuePool) waits for a slot as long as the bound; an in-memory
        # database has one connection per thread and no such wait.
        in_memory = make_url(url).database in (None, "", ":memory:")
        pool = {} if timeout is None or in_memory else {"pool_timeout": timeout}
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        _use_real_sqlite_transactions(engine, DEFAULT_SQLITE_BUSY_SECONDS if timeout is None else timeout)
        return engine
    if timeout is None:
        return create_engine(
            url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        )
    # A down or frozen database must answer 503 within seconds, not hang a worker.
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=timeout,
        connect_args=postgres_connect_args(timeout),
    )
    bound_waits(engine, timeout)
    return engine


def _use_real_sqlite_transactions(engine: Engine, busy_seconds: float) -> None:
    """SQLAlchemy's documented pysqlite recipe, plus foreign keys (off by default in SQLite).

    pysqlite's own BEGIN handling breaks SAVEPOINT; emitting BEGIN ourselves fixes it.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")  # a lock wait is bounded too
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(SQLITE_READ_OPTION):
            return  # a request's reads (db_session): no transaction, each statement on its own
        # A write transaction takes the lock up front and waits for it (busy_timeout); a
        # deferred one that reads first fails at once when another writer got in between.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(SQLITE_WRITE_OPTION) else "BEGIN")


def init_app(app: Flask, url: str, timeout: float | None = None) -> Database:
    database = Database(url, timeout)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()

    return database


def database() -> Database:
    return services().database


def db_session() -> Session:
    """The current request's session, opened on first use (claims-only routes open none).

    Its reads run outside any transaction (autocommit: no BEGIN and ROLLBACK around them,
    two round trips fewer on PostgreSQL, where READ COMMITTED gives each statement its own
    snapshot anyway); `unit_of_work` begins the one transaction a change needs.
    """
    session: Session | None = g.get("db_session")
    if session is None:
        database = services().database
        session = g.db_session = database.sessions()
        if database.bound is None:  # tests that bind sessions to their own transaction keep it
            session.connection(execution_options=database.read_options)
    return session


def reads_outside_transaction(session: Session) -> bool:
    """Whether `session` is a request's session reading in autocommit (db_session), where a
    single statement commits on its own."""
    if not session.in_transaction():
        return False
    options = session.connection().get_execution_options()
    return bool(options.get(SQLITE_READ_OPTION)) or options.get("isolation_level") == "AUTOCOMMIT"


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Commit all that happens inside, or nothing: a change and its audit event together."""
    begin_for_writing(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def begin_for_writing(session: Session) -> None:
    """End the request's reads (autocommit, or a read transaction) and begin a transaction;
    on SQLite one that holds the write lock from its start.

    A write transaction already begun goes on: a route that loads its target before the
    service's unit of work (app.projects.routes) begins it first, so that what it checked
    is what the service changes.
    """
    if session.in_transaction():
        if session.info.get(WRITE_TRANSACTION) is session.get_transaction():
            return
        session.commit()  # only reads happened before a unit of work; nothing is lost
    sqlite = session.get_bind().dialect.name == "sqlite"
    session.connection(execution_options={SQLITE_WRITE_OPTION: True} if sqlite else {})
    session.info[WRITE_TRANSACTION] = session.get_transaction()


def flush_or_conflict(session: Session, detail: str) -> None:
    """Flush now, turning a unique-constraint race into a 409 instead of a 500."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(detail) from None


def rows_changed(session: Session, statement: UpdateBase) -> int:
    """How many rows an UPDATE or DELETE matched (its result is a cursor result)."""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount
