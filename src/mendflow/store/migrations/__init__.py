"""Alembic migrations of the mendflow database (applied by `Database.migrate`)."""
