"""Telemetry: findings people marked as false positives (M7), and each tenant's latest scan (M1 coverage, M10).

Revision ID: 0004_telemetry
Revises: 0003_api_tokens
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_telemetry"
down_revision = "0003_api_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("false_positive", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "tenant_scans",
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("scanned_at", sa.String(40), nullable=False),
        sa.Column("resources", sa.Integer, nullable=False),
        sa.Column("collections_expected", sa.Integer, nullable=False),
        sa.Column("collections_read", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_scans")
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("false_positive")
