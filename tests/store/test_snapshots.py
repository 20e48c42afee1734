"""Snapshots in the shared database: content-addressed, chunked, verified, readable from any process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from mendflow.errors import MendflowError
from mendflow.evidence.snapshots import CHUNK, DatabaseSnapshotStore, SnapshotNotFound, SnapshotStore
from mendflow.store import Database
from mendflow.store.schema import snapshot_blobs, snapshot_chunks


def test_same_content_gets_the_same_digest_as_the_file_store(db: Database, tmp_path: object) -> None:
    """Digests depend on content only (the database and the file store agree), and content reads back in order."""
    store = DatabaseSnapshotStore(db)
    first = store.put_lines([{"b": 2, "a": 1}, {"c": 3}])
    assert store.put_lines([{"a": 1, "b": 2}, {"c": 3}]) == first
    assert list(store.read_lines(first)) == [{"a": 1, "b": 2}, {"c": 3}]
    assert SnapshotStore(tmp_path).put_lines([{"a": 1, "b": 2}, {"c": 3}]) == first  # type: ignore[arg-type]
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(snapshot_blobs)).scalar_one() == 1


def test_large_snapshots_are_stored_in_chunks_and_read_back_whole(db: Database) -> None:
    """A snapshot of several MiB spans several chunks; every item comes back, lines across chunk edges too."""
    store = DatabaseSnapshotStore(db)
    items = [{"id": n, "pad": "x" * (n % 700)} for n in range(12_000)]
    digest = store.put_lines(items)
    with db.read() as conn:
        chunks = conn.execute(sa.select(snapshot_blobs.c.chunks).where(snapshot_blobs.c.digest == digest)).scalar_one()
    assert chunks >= 3 and chunks * CHUNK >= 3 * CHUNK
    assert list(store.read_lines(digest)) == items


def test_put_lines_takes_a_stream_and_a_failing_one_stores_nothing(db: Database) -> None:
    """Scans hand put_lines a generator (no list of every item): same digest as the list; an error midway stores
    no blob and no chunk."""
    store = DatabaseSnapshotStore(db)
    items = [{"n": n} for n in range(3)]
    assert store.put_lines(dict(item) for item in items) == store.put_lines(items)

    def broken() -> Iterator[dict[str, int]]:
        yield {"n": 99}
        raise RuntimeError("the source failed")

    with pytest.raises(RuntimeError):
        store.put_lines(broken())
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(snapshot_blobs)).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(snapshot_chunks)).scalar_one() == 1


def test_unknown_digest_is_reported(db: Database) -> None:
    """A digest that names nothing raises SnapshotNotFound naming the database."""
    with pytest.raises(SnapshotNotFound, match="is not in the database"):
        list(DatabaseSnapshotStore(db).read_lines("sha256:" + "0" * 64))


def test_tampered_snapshot_is_refused(db: Database) -> None:
    """A chunk whose bytes changed after storing is detected on read."""
    import zlib

    store = DatabaseSnapshotStore(db)
    digest = store.put_lines([{"a": 1}])
    with db.write() as conn:
        conn.execute(sa.update(snapshot_chunks).values(data=zlib.compress(b'{"a":2}\n')))
    with pytest.raises(MendflowError, match="corrupt"):
        list(store.read_lines(digest))


def test_discarded_writer_leaves_nothing(db: Database) -> None:
    """An aborted stream stores no blob and no chunk."""
    writer = DatabaseSnapshotStore(db).writer()
    writer.write({"a": 1})
    writer.discard()
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(snapshot_chunks)).scalar_one() == 0


def test_a_snapshot_written_by_one_process_is_read_by_another(database_url: str) -> None:
    """What `collect_inventory` stores on one worker, `evaluate_rules` reads on another."""
    code = """
import sys
from mendflow.evidence.snapshots import DatabaseSnapshotStore
from mendflow.store import Database
db = Database.open(sys.argv[1])
print(DatabaseSnapshotStore(db).put_lines([{"resource": n} for n in range(500)]))
db.dispose()
"""
    out = subprocess.run([sys.executable, "-c", code, database_url], capture_output=True, text=True, check=True)
    db = Database.open(database_url)
    assert list(DatabaseSnapshotStore(db).read_lines(out.stdout.strip())) == [{"resource": n} for n in range(500)]
    db.dispose()


def test_snapshots_not_written_for_the_retention_are_pruned(db: Database) -> None:
    """An old blob goes (chunks too); one written again recently stays, and a pruned one can be stored anew."""
    import time
    from datetime import timedelta

    now = [time.time()]
    store = DatabaseSnapshotStore(db, retention=timedelta(days=90), clock=lambda: now[0])
    old = store.put_lines([{"old": 1}])
    kept = store.put_lines([{"kept": 1}])
    with db.write() as conn:  # both were written 100 days ago …
        conn.execute(sa.update(snapshot_blobs).values(created_at=time.time() - timedelta(days=100).total_seconds()))
    assert store.put_lines([{"kept": 1}]) == kept  # … and `kept` is written again today
    assert store.prune() == 1
    with pytest.raises(SnapshotNotFound):
        list(store.read_lines(old))
    assert list(store.read_lines(kept)) == [{"kept": 1}]
    with db.read() as conn:
        digests = set(conn.execute(sa.select(snapshot_chunks.c.digest)).scalars())
    assert digests == {kept}
    assert list(store.read_lines(store.put_lines([{"old": 1}]))) == [{"old": 1}]
