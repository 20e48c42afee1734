"""Tenant limits shared by every worker: rate buckets (vendor windows, write budgets) and concurrency leases.

Revision ID: 0005_tenant_limits
Revises: 0004_telemetry
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_tenant_limits"
down_revision = "0004_telemetry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_buckets",
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("bucket", sa.String(200), primary_key=True),
        sa.Column("capacity", sa.Float, nullable=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("reset_at", sa.Float, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "tenant_leases",
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(200), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_leases")
    op.drop_table("tenant_buckets")
