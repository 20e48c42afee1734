"""What export refuses to sign (a stored chain already broken, a record holding a known secret), and what it lists
rather than drops (snapshots past retention)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mendflow.audit import AuditEvent, AuditLog, AuditTampered
from mendflow.errors import InputError, MendflowError
from mendflow.evidence import export_evidence, verify_bundle
from mendflow.redaction import register_secret
from mendflow.store import Database
from mendflow.store.schema import audit_log, snapshot_blobs, snapshot_chunks
from tests.evidence.scenario import SINCE, T0, UNTIL, populate


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """The scenario's database (SQLite)."""
    database = Database.open(f"sqlite:///{tmp_path / 'mendflow.sqlite3'}")
    populate(database)
    yield database
    database.dispose()


def export(db: Database) -> None:
    export_evidence(db, since=SINCE, until=UNTIL, framework=None, key=Ed25519PrivateKey.generate())


def test_an_edited_stored_record_stops_the_export_at_the_next_record(db: Database) -> None:
    """A record edited in the database breaks the next one's `prev`; export names that row instead of signing."""
    with db.write() as conn:
        line = conn.execute(sa.select(audit_log.c.line).where(audit_log.c.seq == 3)).scalar_one()
        edited = line.replace('"outcome":"accepted"', '"outcome":"refused"')
        assert edited != line
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 3).values(line=edited))
    with pytest.raises(AuditTampered, match=r"#audit_log:4: audit chain broken: `prev` does not match"):
        export(db)


def test_a_record_holding_a_secret_registered_since_stops_the_export(db: Database) -> None:
    """An audit line cannot be re-redacted without breaking the chain, so one with a now-known secret is refused."""
    value = "later-known-secret-5b1e"
    AuditLog(db, clock=lambda: T0).append(AuditEvent(kind="note", outcome="accepted", reason=value))
    register_secret(value)
    with pytest.raises(MendflowError, match="audit record 8 holds a value that is now a known secret"):
        export(db)


def test_an_empty_window_is_bad_input(db: Database) -> None:
    """`--since` not before `--until` is the caller's mistake (exit 2)."""
    with pytest.raises(InputError, match="is not before --until"):
        export_evidence(db, since=UNTIL, until=SINCE, framework=None, key=Ed25519PrivateKey.generate())


def test_snapshots_past_retention_are_listed_in_the_signed_manifest(db: Database) -> None:
    """A change whose states the store has pruned still exports; the manifest names the missing digests and the
    bundle verifies."""
    with db.write() as conn:
        conn.execute(sa.delete(snapshot_chunks))
        conn.execute(sa.delete(snapshot_blobs))
    exported = export_evidence(db, since=SINCE, until=UNTIL, framework=None, key=Ed25519PrivateKey.generate())
    assert len(exported.manifest.missing_snapshots) == 2 and exported.counts["snapshots"] == 0
    assert verify_bundle(exported.files).manifest.missing_snapshots == exported.manifest.missing_snapshots
