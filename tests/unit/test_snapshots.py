"""The content-addressed snapshot store."""

from __future__ import annotations

from pathlib import Path

import pytest

from mendflow.errors import MendflowError
from mendflow.evidence.snapshots import SnapshotNotFound, SnapshotStore


def test_same_content_gets_the_same_digest(tmp_path: Path) -> None:
    """Digests depend on content only, and content reads back in order."""
    store = SnapshotStore(tmp_path)
    first = store.put_lines([{"b": 2, "a": 1}, {"c": 3}])
    second = store.put_lines([{"a": 1, "b": 2}, {"c": 3}])
    assert first == second and first.startswith("sha256:")
    assert list(store.read_lines(first)) == [{"a": 1, "b": 2}, {"c": 3}]
    assert store.put_lines([{"c": 3}]) != first


def test_unknown_digest_is_reported(tmp_path: Path) -> None:
    """A digest that names nothing raises SnapshotNotFound naming the store."""
    with pytest.raises(SnapshotNotFound, match=str(tmp_path)):
        list(SnapshotStore(tmp_path).read_lines("sha256:" + "0" * 64))


def test_tampered_snapshot_is_refused(tmp_path: Path) -> None:
    """A blob whose bytes changed after storing is detected on read."""
    store = SnapshotStore(tmp_path)
    digest = store.put_lines([{"a": 1}])
    blob = next((tmp_path / "sha256").rglob("*.jsonl"))
    blob.write_text('{"a":2}\n')
    with pytest.raises(MendflowError, match="corrupt"):
        list(store.read_lines(digest))


def test_discarded_writer_leaves_nothing(tmp_path: Path) -> None:
    """An aborted stream leaves no partial blob behind."""
    writer = SnapshotStore(tmp_path).writer()
    writer.write({"a": 1})
    writer.discard()
    assert not list(tmp_path.rglob("*.jsonl")) and not list(tmp_path.glob(".incoming-*"))
