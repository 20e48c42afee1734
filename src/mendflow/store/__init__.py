"""Shared state: one database that every worker and API replica sees.

SQLite in the data directory is the embedded default (nothing to install); PostgreSQL is the choice when
several machines run workers. Both are reached through SQLAlchemy Core with one schema, versioned by alembic
migrations that are applied automatically when a `Database` is opened (see `database.py`).

Callers import from this package, not from its modules:

    db = Database.open(database_url(data_dir))          # migrated, ready
    keys = IdempotencyKeys(db)                           # (workflow id, step key) → result of a side effect
    seen = StoredReplayCache(db)                         # signed requests already received
"""

from mendflow.store.database import DATABASE_URL_ENV, Database, StoreError, database_url, redacted_url
from mendflow.store.idempotency import IdempotencyKeys
from mendflow.store.replay import StoredReplayCache

__all__ = [
    "DATABASE_URL_ENV",
    "Database",
    "IdempotencyKeys",
    "StoreError",
    "StoredReplayCache",
    "database_url",
    "redacted_url",
]
