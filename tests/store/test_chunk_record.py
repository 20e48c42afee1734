"""Recording a chunk of changes in the shared database (issue 11): the evidence is the same as one by one, in a
few statements per chunk rather than a few per change, on both backends."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from mendflow.audit import AuditEvent, AuditLog
from mendflow.evidence.changes import ChangeRecord, record_changes
from mendflow.evidence.snapshots import CHUNK, DatabaseSnapshotStore, SnapshotStore
from mendflow.models import Change, Outcome, ResourceRef
from mendflow.redaction import MASK, register_secret
from mendflow.store import Database
from mendflow.store.schema import snapshot_blobs, snapshot_chunks


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run on `db` inside the block (an executemany counts once)."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def _chunk_rows(db: Database) -> dict[tuple[str, int], bytes]:
    with db.read() as conn:
        rows = conn.execute(sa.select(snapshot_chunks.c.digest, snapshot_chunks.c.seq, snapshot_chunks.c.data))
        return {(digest, seq): zlib.decompress(data) for digest, seq, data in rows}


def test_put_many_stores_what_put_lines_would_in_one_transaction(db: Database, tmp_path: Path) -> None:
    """Same digests as `put_lines` and the file store, the same chunks (a blob past CHUNK spans several), content
    read back; blobs already stored are not stored twice; one statement when every blob is there already."""
    store = DatabaseSnapshotStore(db)
    big = [{"n": n, "pad": "x" * 500} for n in range(5_000)]  # about 2.5 MiB: three chunks
    blobs = [[{"a": 1}], [{"b": 2}, {"c": 3}], big, [{"a": 1}]]
    digests = store.put_many(blobs)
    assert digests == [SnapshotStore(tmp_path).put_lines(items) for items in blobs]
    assert digests[0] == digests[3]
    assert [list(store.read_lines(d)) for d in digests] == blobs
    many = _chunk_rows(db)
    other = Database.open(f"sqlite:///{tmp_path / 'one-by-one.sqlite3'}")
    try:
        for items in blobs:
            DatabaseSnapshotStore(other).put_lines(items)
        assert _chunk_rows(other) == many
        assert sorted(seq for digest, seq in many if digest == digests[2]) == [0, 1, 2]
        assert len(many[(digests[2], 0)]) == CHUNK
    finally:
        other.dispose()
    with statements(db) as seen:
        assert store.put_many(blobs[:2]) == digests[:2]
    assert len([s for s in seen if "snapshot" in s]) == 1, seen
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(snapshot_blobs)).scalar_one() == 3


def test_put_many_completes_a_blob_another_writer_left_half_stored(db: Database) -> None:
    """A chunk row already there (another worker storing the same content, or one that died before its blob row)
    does not fail the batch: its bytes are identical by construction, and the blob row is written."""
    store = DatabaseSnapshotStore(db)
    raw = b'{"a":1}\n'
    [digest] = store.put_many([[{"a": 1}]])
    with db.write() as conn:
        conn.execute(sa.delete(snapshot_blobs))  # the blob row gone, its chunk left
    assert store.put_many([[{"a": 1}], [{"z": 0}]])[0] == digest
    assert list(store.read_lines(digest)) == [{"a": 1}]
    assert _chunk_rows(db)[(digest, 0)] == raw


def _changes(count: int, secret: str) -> list[ChangeRecord]:
    return [
        ChangeRecord(
            tenant_key="github:acme",
            fingerprint=f"fp{n}",
            change=Change(
                resource=ResourceRef(type="github.repo_hook", id=f"/repos/acme/r{n}/hooks/{n}"),
                action="github.repo_hook.update_config",
                before={"insecure_ssl": "1", "note": f"{secret} in a note"} if n == 3 else {"insecure_ssl": "1"},
                after={"insecure_ssl": "0"},
            ),
            result=Outcome.verified,
        )
        for n in range(count)
    ]


def test_a_chunk_of_changes_is_recorded_in_a_few_statements_with_its_states_redacted(db: Database) -> None:
    """Sixteen changes: the chain verifies and names each change's states by digest, the states read back (a
    secret in one masked), all in one statement for the snapshots and one INSERT for the chain (it was a
    transaction per distinct state and an INSERT per change)."""
    secret = "canary-" + "q7" * 12
    register_secret(secret)
    audit, store = AuditLog(db), DatabaseSnapshotStore(db)
    audit.append(AuditEvent(kind="decision", outcome="accepted"))  # a chain to join
    store.prune()  # the hourly prune done: not counted below
    with statements(db) as seen:
        written = record_changes(audit, store, campaign_id="c1", entries=_changes(16, secret))
    assert len([s for s in seen if "snapshot" in s]) == 3, seen  # touch, chunks, blobs (both states are new)
    assert len([s for s in seen if s.lstrip().upper().startswith("INSERT INTO AUDIT_LOG")]) == 1, seen
    assert audit.verify() == 17
    assert [r["details"]["resource"] for r in audit.records()[1:]] == [f"/repos/acme/r{n}/hooks/{n}" for n in range(16)]
    states = {d: list(store.read_lines(d)) for r in written for d in (r["details"]["before"], r["details"]["after"])}
    assert len(states) == 3
    assert [{"insecure_ssl": "1", "note": f"{MASK} in a note"}] in states.values()
    assert secret not in repr(states) and secret not in repr(audit.records())


def test_a_small_snapshot_is_stored_in_one_transaction_and_read_back_in_one_statement(db: Database) -> None:
    """A page of targets or a journal (under CHUNK) is stored in one transaction, new or already there, and read
    back in one statement (it took a transaction per statement to store, and two statements to read)."""
    store = DatabaseSnapshotStore(db)
    store.prune()  # the hourly prune done: not counted below
    begun: list[object] = []

    def begin(conn: object) -> None:
        begun.append(conn)

    sa.event.listen(db.engine, "begin", begin)
    try:
        with statements(db) as stored:
            digest = store.put_lines([{"fingerprint": f"fp{n}"} for n in range(100)])
        assert len(begun) == 1 and len([s for s in stored if "snapshot" in s]) == 3, stored
        begun.clear()
        with statements(db) as again:
            assert store.put_lines([{"fingerprint": f"fp{n}"} for n in range(100)]) == digest
        assert len(begun) == 1 and len([s for s in again if "snapshot" in s]) == 1, again
        with statements(db) as read:
            assert list(store.read_lines(digest)) == [{"fingerprint": f"fp{n}"} for n in range(100)]
        assert len([s for s in read if "snapshot" in s]) == 1, read
    finally:
        sa.event.remove(db.engine, "begin", begin)
