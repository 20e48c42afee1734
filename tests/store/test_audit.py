"""The hash-chained audit log in the shared database: one verifiable chain from many processes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
import sqlalchemy as sa

from mendflow.audit import GENESIS, AuditEvent, AuditLog, AuditTampered
from mendflow.redaction import MASK, register_secret
from mendflow.store import Database
from mendflow.store.schema import audit_log


def _event(n: int) -> AuditEvent:
    return AuditEvent(kind="slack.decision", outcome="refused", reason=f"reason {n}", campaign_id=f"c{n}")


def _lines(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.execute(sa.select(audit_log.c.line).order_by(audit_log.c.seq)).scalars())


def test_rows_chain_by_sha256_of_the_previous_record(db: Database) -> None:
    """The first `prev` is the genesis value; each next one is sha256 of the previous record as stored."""
    log = AuditLog(db)
    for n in range(3):
        log.append(_event(n))
    lines = _lines(db)
    assert json.loads(lines[0])["prev"] == GENESIS
    assert json.loads(lines[2])["prev"] == hashlib.sha256(lines[1].encode()).hexdigest()
    assert log.verify() == 3 and [r["reason"] for r in log.records()] == ["reason 0", "reason 1", "reason 2"]


@pytest.mark.parametrize("backend", ["database", "file"])
def test_a_batch_joins_the_chain_in_order_between_single_appends(db: Database, tmp_path, backend: str) -> None:  # type: ignore[no-untyped-def]
    """`append_many` (a chunk of campaign changes at once) links each record to the one before, as single
    appends do, on both backends: the chain verifies and reads back in the order given."""
    log = AuditLog(db) if backend == "database" else AuditLog(tmp_path / "audit.jsonl")
    log.append(_event(0))
    written = log.append_many([_event(1), _event(2), _event(3)])
    log.append(_event(4))
    assert log.append_many([]) == []
    assert [r["reason"] for r in written] == ["reason 1", "reason 2", "reason 3"]
    assert log.verify() == 5 and [r["reason"] for r in log.records()] == [f"reason {n}" for n in range(5)]


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_tampering_with_a_row_is_detected(db: Database, tamper: str) -> None:
    """Editing or deleting a row makes verify() raise, naming the database table and the record."""
    log = AuditLog(db)
    for n in range(4):
        log.append(_event(n))
    with db.write() as conn:
        second = audit_log.c.seq == sa.select(sa.func.min(audit_log.c.seq)).scalar_subquery() + 1
        if tamper == "edit":
            conn.execute(sa.update(audit_log).where(second).values(line=sa.func.replace(audit_log.c.line, "1", "X")))
        else:
            conn.execute(sa.delete(audit_log).where(second))
    with pytest.raises(AuditTampered, match=r"audit_log:(2|3): audit chain broken"):
        log.verify()


def test_secrets_never_reach_the_database(db: Database) -> None:
    """A registered secret in a reason or detail is masked before the row is written."""
    register_secret("audit-db-canary-secret-91")
    AuditLog(db).append(
        AuditEvent(
            kind="k", outcome="error", reason="audit-db-canary-secret-91", details={"x": "audit-db-canary-secret-91"}
        )
    )
    text = "\n".join(_lines(db))
    assert "audit-db-canary-secret-91" not in text and MASK in text


def test_appends_from_several_processes_keep_one_chain(database_url: str) -> None:
    """Four processes appending 25 records each at once form one valid chain of 100."""
    Database.open(database_url).dispose()
    code = """
import sys
from mendflow.audit import AuditEvent, AuditLog
from mendflow.store import Database
db = Database.open(sys.argv[1])
log = AuditLog(db)
for n in range(25):
    log.append(AuditEvent(kind="k", outcome="accepted", reason=f"{sys.argv[2]}-{n}"))
db.dispose()
"""
    procs = [
        subprocess.Popen([sys.executable, "-c", code, database_url, str(k)], stderr=subprocess.PIPE, text=True)
        for k in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    db = Database.open(database_url)
    assert AuditLog(db).verify() == 100
    db.dispose()


def test_an_empty_database_log_verifies_as_empty(db: Database) -> None:
    """A chain that was never written has zero records and verifies."""
    assert AuditLog(db).verify() == 0 and AuditLog(db).records() == []
