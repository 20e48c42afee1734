"""Alembic environment: always run on the connection `Database.migrate` hands over (inside its lock)."""

from __future__ import annotations

from alembic import context

from mendflow.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through mendflow.store.Database.migrate(), not the alembic CLI")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
