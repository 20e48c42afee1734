"""The tables as the code queries them (SQLAlchemy Core).

The migrations in `migrations/versions/` create and change these tables; this module must describe the schema
at the newest migration (`tests/store/test_migrations.py` compares the two).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

findings = sa.Table(
    "findings",
    metadata,
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
    sa.Column("opened_at", sa.String(40), nullable=True),
    sa.Column("resolution", sa.String(40), nullable=True),
    sa.Column("false_positive", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("findings_tenant_status", "tenant", "status"),
)
"""The findings ledger: one row per (tenant key, fingerprint); timestamps are UTC ISO-8601 strings.
`opened_at` is when the finding was last opened (first seen, or seen again after it resolved)."""

finding_events = sa.Table(
    "finding_events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(200), nullable=False),
    sa.Column("fingerprint", sa.String(80), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Index("finding_events_finding", "tenant", "fingerprint"),
)
"""Each finding's status history (what it became, when and why)."""

tenant_scans = sa.Table(
    "tenant_scans",
    metadata,
    sa.Column("tenant", sa.String(200), primary_key=True),
    sa.Column("scanned_at", sa.String(40), nullable=False),
    sa.Column("resources", sa.Integer, nullable=False),
    sa.Column("collections_expected", sa.Integer, nullable=False),
    sa.Column("collections_read", sa.Integer, nullable=False),
)
"""Each tenant's latest inventory: how many resources, and how many of the expected collections were read (the
SSPM gauges read it, so every worker and API replica reports the same coverage and compliance rate)."""

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("prev", sa.String(64), nullable=False, unique=True),
    sa.Column("line", sa.Text, nullable=False),
)
"""The hash-chained audit log: `line` is the record exactly as hashed; `prev` is unique, so the chain can never
fork even if two writers raced."""

snapshot_blobs = sa.Table(
    "snapshot_blobs",
    metadata,
    sa.Column("digest", sa.String(80), primary_key=True),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("chunks", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
"""A content-addressed snapshot; the row is written last, so a present row means every chunk is there."""

snapshot_chunks = sa.Table(
    "snapshot_chunks",
    metadata,
    sa.Column("digest", sa.String(80), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
"""zlib-compressed pieces of a snapshot's JSON lines (read one at a time: memory stays bounded)."""

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("workflow_id", sa.String(400), primary_key=True),
    sa.Column("step_key", sa.String(400), primary_key=True),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
)
"""External side effects already done, keyed by workflow and step, with what they returned."""

replay_cache = sa.Table(
    "replay_cache",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)
"""Signed requests already received (sha256 of signature and body), kept until their signature expires."""

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_id", sa.String(40), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("person", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
)
"""Personal API tokens (`mendflow tokens`): only the sha256 of each token is kept (see `mendflow.auth.tokens`)."""

tenant_buckets = sa.Table(
    "tenant_buckets",
    metadata,
    sa.Column("tenant", sa.String(200), primary_key=True),
    sa.Column("bucket", sa.String(200), primary_key=True),
    sa.Column("capacity", sa.Float, nullable=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("reset_at", sa.Float, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
)
"""A tenant's shared rate buckets (see `mendflow.store.limits`): a vendor's window as it last reported it
(`capacity` = its limit, `tokens` = requests left, `reset_at` = when it refills) or a write budget refilled
continuously; every worker takes tokens from the same row, inside a locked transaction."""

tenant_leases = sa.Table(
    "tenant_leases",
    metadata,
    sa.Column("tenant", sa.String(200), primary_key=True),
    sa.Column("holder", sa.String(200), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False),
)
"""Concurrency slots a tenant's writes hold (one row per holder); a lease not renewed expires, so a killed worker
gives its slot back."""

__all__ = [
    "api_tokens",
    "audit_log",
    "finding_events",
    "findings",
    "idempotency_keys",
    "metadata",
    "replay_cache",
    "snapshot_blobs",
    "snapshot_chunks",
    "tenant_buckets",
    "tenant_leases",
]
