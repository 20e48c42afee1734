"""Opening the database: URL choice, automatic migrations (idempotent, concurrent-safe), schema = code, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mendflow.errors import InputError, StoreError
from mendflow.store import DATABASE_URL_ENV, Database, database_url
from mendflow.store.database import schema_head
from mendflow.store.schema import metadata


def _version(db: Database) -> list[str]:
    with db.read() as conn:
        return [row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]


def test_opening_applies_every_migration(db: Database) -> None:
    """A new database is stamped with the newest migration and has every table the code uses."""
    assert _version(db) == [schema_head()]
    tables = set(sa.inspect(db.engine).get_table_names())
    assert set(metadata.tables) <= tables


def test_migrations_create_exactly_the_schema_the_code_queries(db: Database) -> None:
    """alembic's autogenerate finds no difference between the migrated database and `store/schema.py`."""
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


def test_opening_twice_is_harmless(database_url: str) -> None:
    """A second open of a migrated database changes nothing and keeps the data."""
    first = Database.open(database_url)
    with first.write() as conn:
        conn.execute(sa.text("INSERT INTO replay_cache (key, expires_at) VALUES ('k', 1.0)"))
    first.dispose()
    second = Database.open(database_url)
    second.migrate()
    with second.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM replay_cache")).scalar_one() == 1
    assert _version(second) == [schema_head()]
    second.dispose()


def test_several_processes_starting_at_once_migrate_once(database_url: str) -> None:
    """Four processes opening a new database together all succeed and leave one version row."""
    code = "import sys; from mendflow.store import Database; Database.open(sys.argv[1]).dispose()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, database_url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    db = Database.open(database_url)
    assert _version(db) == [schema_head()]
    db.dispose()


def test_default_url_is_sqlite_in_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a URL or the environment variable, the database is a SQLite file in the data directory."""
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    assert database_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'mendflow.sqlite3'}"
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://m@db/x")
    assert database_url(tmp_path) == "postgresql://m@db/x"
    assert database_url(tmp_path, "sqlite:////elsewhere.db") == "sqlite:////elsewhere.db"


@pytest.mark.parametrize(
    "url", ["not a url", "mysql://u@h/db", "sqlite://", "sqlite:///:memory:"], ids=["garbage", "mysql", "mem", "mem2"]
)
def test_unusable_urls_are_input_errors(url: str) -> None:
    """A URL mendflow cannot use is the user's mistake (exit 2), said in words."""
    with pytest.raises(InputError, match="database"):
        Database.open(url)


def test_unreachable_postgres_names_it_without_the_password() -> None:
    """A server that is not there is a StoreError naming the database, never its password."""
    with pytest.raises(StoreError) as caught:
        Database.open("postgresql://mendflow:hunter2-secret@127.0.0.1:1/nothing?connect_timeout=2")
    assert "hunter2-secret" not in str(caught.value)
    assert "127.0.0.1:1/nothing" in str(caught.value)
