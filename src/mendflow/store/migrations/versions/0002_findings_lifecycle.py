"""Findings lifecycle: when a finding was last (re)opened, why it resolved, and its status history.

Revision ID: 0002_findings_lifecycle
Revises: 0001_initial
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_findings_lifecycle"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("opened_at", sa.String(40), nullable=True))
        batch.add_column(sa.Column("resolution", sa.String(40), nullable=True))
    op.execute("UPDATE findings SET opened_at = first_seen WHERE opened_at IS NULL")
    op.create_table(
        "finding_events",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
    )
    op.create_index("finding_events_finding", "finding_events", ["tenant", "fingerprint"])


def downgrade() -> None:
    op.drop_table("finding_events")
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("resolution")
        batch.drop_column("opened_at")
