"""Initial schema: findings ledger, audit chain, snapshots, idempotency keys, Slack replay cache.

Revision ID: 0001_initial
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(80), primary_key=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("resource_id", sa.Text, nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("campaign", sa.Text, nullable=True),
        sa.Column("first_seen", sa.String(40), nullable=False),
        sa.Column("last_seen", sa.String(40), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("findings_tenant_status", "findings", ["tenant", "status"])
    op.create_table(
        "audit_log",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("prev", sa.String(64), nullable=False, unique=True),
        sa.Column("line", sa.Text, nullable=False),
    )
    op.create_table(
        "snapshot_blobs",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "snapshot_chunks",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("workflow_id", sa.String(400), primary_key=True),
        sa.Column("step_key", sa.String(400), primary_key=True),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_table(
        "replay_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_replay_cache_expires_at", "replay_cache", ["expires_at"])


def downgrade() -> None:
    for table in ("replay_cache", "idempotency_keys", "snapshot_chunks", "snapshot_blobs", "audit_log", "findings"):
        op.drop_table(table)
