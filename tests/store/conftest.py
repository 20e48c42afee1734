"""Store fixtures: a real PostgreSQL server for the session, and `database_url` parametrized over both backends."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mendflow.store import Database
from tests.integrations.conftest import cards, directory, gate, jira, slack  # noqa: F401 (simulator fixtures)
from tests.store.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server (Debian's postgresql package) on a free loopback port."""
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mendflow.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once, copied for each test that wants a migrated database."""
    path = tmp_path_factory.mktemp("migrated") / "mendflow.sqlite3"
    Database.open(f"sqlite:///{path}").dispose()
    assert not path.with_name(path.name + "-wal").exists()  # all in the one file: a copy is the whole database
    return path


@pytest.fixture
def db(database_url: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The fresh database, migrated: a copy of one migrated once per session (migrating took ~0.1 s a test)."""
    if database_url.startswith("sqlite:///"):
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), database_url.removeprefix("sqlite:///"))
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        server.refill_migrated(database_url)
    database = Database.open(database_url)
    yield database
    database.dispose()
