"""Store fixtures: a real PostgreSQL server for the session, and `database_url` parametrized over both backends."""

from __future__ import annotations

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


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The fresh database, migrated."""
    database = Database.open(database_url)
    yield database
    database.dispose()
