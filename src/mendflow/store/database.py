"""Opening the database: URL → SQLAlchemy engine, migrated to the newest schema, with write transactions that
serialize where the data needs it.

Pipeline: `database_url()` picks the URL (explicit `--database-url`, else `MENDFLOW_DATABASE_URL`, else a SQLite
file in the data directory) → `Database.open()` builds the engine (SQLite: WAL, busy timeout, `BEGIN IMMEDIATE`
for writes so two processes never deadlock upgrading a read lock) → `migrate()` runs alembic's `upgrade head`
under a lock (a PostgreSQL advisory lock, or an flock beside the SQLite file), so several processes starting at
once apply each migration exactly once. `lock(conn, name)` serializes one kind of write across processes inside
a transaction (the audit chain's appends); on SQLite the immediate transaction already does.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from mendflow.errors import InputError, StoreError

DATABASE_URL_ENV = "MENDFLOW_DATABASE_URL"
"""Environment variable naming the database (same as `--database-url`)."""

SQLITE_FILE = "mendflow.sqlite3"
"""The embedded default's file name inside the data directory."""

_MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "mendflow_write"
_migrated: set[str] = set()
_migrated_lock = threading.Lock()
_sqlite_writers: dict[str, threading.RLock] = {}
_sqlite_writers_lock = threading.Lock()


def database_url(data_dir: Path, explicit: str | None = None) -> str:
    """The URL to use: the explicit one, else `$MENDFLOW_DATABASE_URL`, else SQLite in `data_dir`."""
    chosen = explicit or os.environ.get(DATABASE_URL_ENV, "").strip()
    if chosen:
        return chosen
    return f"sqlite:///{(data_dir / SQLITE_FILE).resolve()}"


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError("database URL is not a URL: expected sqlite:///path or postgresql://user@host/db") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")  # psycopg 3 whatever the URL named
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise InputError("an in-memory SQLite database cannot be shared: give a file, sqlite:///path")
        return parsed
    raise InputError(f"database {backend!r} is not supported: use sqlite:///path or postgresql://…")


def redacted_url(url: str) -> str:
    """The URL with its password masked (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def _sqlite_engine(url: URL) -> Engine:
    Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None  # we issue BEGIN ourselves (pysqlite's own handling defers it badly)
        cursor = dbapi.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A deferred transaction that reads and then writes cannot wait for another writer (SQLITE_BUSY at
        # once); an immediate one takes the write lock up front and honours the busy timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


class Database:
    """One engine and its dialect; build with `Database.open(url)`."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        """Connect (and, unless told not to, bring the schema up to date)."""
        parsed = _parse(url)
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed)
        else:
            engine = sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
        db = cls(parsed.render_as_string(hide_password=False), engine)
        if migrate:
            db.migrate()
        return db

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @property
    def where(self) -> str:
        """Where the data lives, password masked (for messages)."""
        return redacted_url(self.url)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction for reading (a consistent view; never blocks writers on SQLite WAL)."""
        with self._guard(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction for writing; committed on success, rolled back on any error."""
        with self._writer(), self._guard(), self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def _writer(self) -> contextlib.AbstractContextManager[object]:
        """SQLite: one writer at a time per process, queued on a lock. Threads that meet at SQLite's write lock
        instead sleep in its busy handler (1, 2, 5 … 100 ms backoff): with a campaign's activities writing from
        several threads at once, those sleeps cost a third of its wall time. Other processes still meet at SQLite's
        lock (busy timeout); PostgreSQL locks rows, not the database, and needs nothing here."""
        if self.dialect != "sqlite":
            return contextlib.nullcontext()
        with _sqlite_writers_lock:
            return _sqlite_writers.setdefault(self.url, threading.RLock())

    def lock(self, conn: Connection, name: str) -> None:
        """Serialize writers of `name` across processes until this transaction ends."""
        if self.dialect == "postgresql":
            key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        # SQLite: `write()` holds the database's write lock (BEGIN IMMEDIATE) for the whole transaction.

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as err:
            # The driver's text can quote the DSN; name the database ourselves instead.
            reason = type(err.orig).__name__ if err.orig is not None else "OperationalError"
            raise StoreError(f"database {self.where} cannot be used ({reason}): is it running and reachable?") from None

    # --- migrations ---

    def migrate(self) -> None:
        """Apply every pending migration; safe when several processes start at once (idempotent)."""
        with _migrated_lock:
            if self.url in _migrated:
                return
            with self._migration_lock():
                try:
                    with self.write() as conn:
                        self.lock(conn, "mendflow.migrations")
                        _upgrade(conn)
                except SQLAlchemyError as err:
                    raise StoreError(f"could not migrate database {self.where}: {type(err).__name__}") from None
            _migrated.add(self.url)

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """An flock beside a SQLite file (DDL and alembic's version row in one step per process)."""
        if self.dialect != "sqlite":
            yield
            return
        path = Path(self.engine.url.database or "").with_suffix(".migrate.lock")
        with open(path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def schema_head() -> str:
    """The newest migration's revision id (what an up-to-date database is stamped with)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


__all__ = ["DATABASE_URL_ENV", "SQLITE_FILE", "Database", "StoreError", "database_url", "redacted_url", "schema_head"]
