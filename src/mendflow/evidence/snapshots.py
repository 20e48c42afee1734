"""Content-addressed snapshot store: inventories and findings are stored once, named by their sha256.

Workflows pass the digest, never the content (Temporal payloads stay small; the same content is stored once).
Resources are written as JSON lines while they stream in, so a scan never holds a second copy in memory.

Two stores behind one interface (`Snapshots`): `DatabaseSnapshotStore` keeps blobs in the shared database
(what workers use: a snapshot written by `collect_inventory` on one worker is read by `evaluate_rules` on
another), `SnapshotStore` keeps them as files in a directory (offline scans and benchmarks, no database).
Why the database rather than object storage: snapshots are small next to the database's other traffic (one
inventory per scan, kilobytes to a few hundred megabytes, zlib-compressed in 1 MiB chunks so neither side
holds a whole blob in memory), and one dependency less to run, secure and back up.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from mendflow.errors import MendflowError
from mendflow.store import Database
from mendflow.store.retention import Retained
from mendflow.store.schema import snapshot_blobs, snapshot_chunks

PREFIX = "sha256:"


class SnapshotNotFound(MendflowError):
    """A digest names no stored snapshot (wrong data directory, or the store was cleaned)."""


CHUNK = 1 << 20
"""Bytes of JSON lines per stored chunk (before compression)."""

RETENTION = timedelta(days=90)
"""How long a snapshot nobody wrote again is kept in the database."""


class SnapshotSink(Protocol):
    """A snapshot being written: `write` items, then `close` (→ digest) or `discard`."""

    count: int
    digest: str

    def write(self, item: Any) -> None: ...
    def close(self) -> str: ...
    def discard(self) -> None: ...


class Snapshots(Protocol):
    """What activities need of a snapshot store."""

    def writer(self) -> SnapshotSink: ...
    def put_lines(self, items: Iterable[Any]) -> str: ...
    def put_many(self, blobs: Sequence[Sequence[Any]]) -> list[str]: ...
    def read_lines(self, digest: str) -> Iterator[Any]: ...


def _line(item: Any) -> bytes:
    return json.dumps(item, sort_keys=True, separators=(",", ":"), default=str).encode() + b"\n"


def _put_lines(store: Snapshots, items: Iterable[Any]) -> str:
    """Store `items` as one blob; a generator streams (no list of them all is needed)."""
    writer = store.writer()
    try:
        for item in items:
            writer.write(item)
    except BaseException:
        writer.discard()
        raise
    return writer.close()


class SnapshotWriter:
    """Streams JSON lines to a temporary file while hashing; `digest` is known after `close`."""

    def __init__(self, root: Path) -> None:
        self._root = root
        root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".incoming-", dir=root)
        self._tmp = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.count = 0
        self.digest = ""

    def write(self, item: Any) -> None:
        line = _line(item)
        self._hash.update(line)
        self._file.write(line)
        self.count += 1

    def close(self) -> str:
        self._file.close()
        self.digest = PREFIX + self._hash.hexdigest()
        target = _path_for(self._root, self.digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp, target)  # atomic; identical content lands on the identical name
        return self.digest

    def discard(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


def _path_for(root: Path, digest: str) -> Path:
    if not digest.startswith(PREFIX) or len(digest) != len(PREFIX) + 64:
        raise SnapshotNotFound(f"not a snapshot digest: {digest!r}")
    hexdigest = digest[len(PREFIX) :]
    return root / "sha256" / hexdigest[:2] / f"{hexdigest}.jsonl"


class SnapshotStore:
    """A directory of immutable JSON-lines blobs addressed by `sha256:<hex>`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def writer(self) -> SnapshotWriter:
        return SnapshotWriter(self.root)

    def put_lines(self, items: Iterable[Any]) -> str:
        return _put_lines(self, items)

    def put_many(self, blobs: Sequence[Sequence[Any]]) -> list[str]:
        """`put_lines` of each blob; the digests in order."""
        return [self.put_lines(items) for items in blobs]

    def read_lines(self, digest: str) -> Iterator[Any]:
        """Yield the stored items in order; refuses a blob whose content no longer matches its name."""
        path = _path_for(self.root, digest)
        if not path.exists():
            raise SnapshotNotFound(f"snapshot {digest} is not in {self.root}")
        check = hashlib.sha256()
        with path.open("rb") as handle:
            for line in handle:
                check.update(line)
                yield json.loads(line)
        if PREFIX + check.hexdigest() != digest:
            raise MendflowError(f"snapshot {digest} in {self.root} is corrupt (content hash differs)")


class DatabaseSnapshotWriter:
    """Spools JSON lines (in memory, then to an unlinked temporary file) while hashing; `close` stores them in the
    database (unless a blob with the same digest is already there)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # In memory up to one chunk (most blobs: a change's before/after, a page of targets), a file beyond.
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed below)
            max_size=CHUNK, prefix="mendflow-snapshot-"
        )
        self._hash = hashlib.sha256()
        self._size = 0
        self.count = 0
        self.digest = ""

    def write(self, item: Any) -> None:
        line = _line(item)
        self._hash.update(line)
        self._file.write(line)
        self._size += len(line)
        self.count += 1

    def close(self) -> str:
        self.digest = PREFIX + self._hash.hexdigest()
        try:
            if self._size <= CHUNK:  # still in memory (most blobs): refreshed or stored in one transaction
                self._file.seek(0)
                _store_small(self._db, {self.digest: (self._file.read(), self.count)})
            # Already there: refresh its age so retention counts from the newest use; gone meanwhile: store it.
            elif not _touch(self._db, self.digest):
                self._store()
        finally:
            self._file.close()
        return self.digest

    def _store(self) -> None:
        self._file.seek(0)
        seq = 0
        while True:
            raw = self._file.read(CHUNK)
            if not raw:
                break
            try:
                with self._db.write() as conn:
                    conn.execute(
                        sa.insert(snapshot_chunks).values(digest=self.digest, seq=seq, data=zlib.compress(raw, 1))
                    )
            except IntegrityError:
                pass  # another worker is storing (or stored) the same content: identical bytes by construction
            seq += 1
        try:
            with self._db.write() as conn:  # written last: a present row means every chunk is there
                conn.execute(
                    sa.insert(snapshot_blobs).values(
                        digest=self.digest, items=self.count, size=self._size, chunks=seq, created_at=time.time()
                    )
                )
        except IntegrityError:
            pass

    def discard(self) -> None:
        self._file.close()


# Built once: a campaign stores its changes' states on every chunk (building a statement costs several times what
# running it on SQLite does). Rows already there are skipped (ON CONFLICT DO NOTHING, both backends): another worker
# storing the same content meanwhile wrote identical bytes by construction.
_TOUCH_MANY = (
    sa.update(snapshot_blobs)
    .where(snapshot_blobs.c.digest.in_(sa.bindparam("k_digests", expanding=True)))
    .returning(snapshot_blobs.c.digest)
)
_TOUCH = sa.update(snapshot_blobs).where(snapshot_blobs.c.digest == sa.bindparam("k_digest"))
_FIRST_CHUNK = (
    sa.select(snapshot_blobs.c.chunks, snapshot_chunks.c.data)
    .select_from(
        snapshot_blobs.outerjoin(
            snapshot_chunks, (snapshot_chunks.c.digest == snapshot_blobs.c.digest) & (snapshot_chunks.c.seq == 0)
        )
    )
    .where(snapshot_blobs.c.digest == sa.bindparam("k_digest"))
)
_CHUNK_DATA = sa.select(snapshot_chunks.c.data).where(
    snapshot_chunks.c.digest == sa.bindparam("k_digest"), snapshot_chunks.c.seq == sa.bindparam("k_seq")
)
_INSERT_IGNORING = {
    name: {t.name: dialect.insert(t).on_conflict_do_nothing() for t in (snapshot_blobs, snapshot_chunks)}
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _store_small(db: Database, blobs: dict[str, tuple[bytes, int]]) -> None:
    """Store blobs held in memory (digest → JSON lines, items) in one transaction: one statement refreshes the age of
    those already stored and names them, the others are inserted together (chunks first, as `_store` does)."""
    with db.write() as conn:
        now = time.time()
        present = set(conn.execute(_TOUCH_MANY, {"k_digests": list(blobs), "created_at": now}).scalars())
        # In digest order: two workers inserting the same new blobs lock their keys in one order (no deadlock).
        missing = [(digest, *blobs[digest]) for digest in sorted(blobs) if digest not in present]
        if not missing:
            return
        chunks = [
            {"digest": digest, "seq": seq, "data": zlib.compress(raw[start : start + CHUNK], 1)}
            for digest, raw, _ in missing
            for seq, start in enumerate(range(0, len(raw), CHUNK))
        ]
        rows = [
            {"digest": digest, "items": count, "size": len(raw), "chunks": -(-len(raw) // CHUNK), "created_at": now}
            for digest, raw, count in missing
        ]
        inserts = _INSERT_IGNORING[db.dialect]
        if chunks:
            conn.execute(inserts[snapshot_chunks.name], chunks)
        conn.execute(inserts[snapshot_blobs.name], rows)  # with its chunks: present means complete


def _touch(db: Database, digest: str) -> bool:
    """Mark a stored blob as written now; False if there is no such blob."""
    with db.write() as conn:
        return conn.execute(_TOUCH, {"k_digest": digest, "created_at": time.time()}).rowcount == 1


def _first_chunk(db: Database, digest: str) -> tuple[int, bytes | None] | None:
    """A stored blob's number of chunks and its first chunk, in one statement (most blobs have one); None if there
    is no such blob."""
    with db.read() as conn:
        row = conn.execute(_FIRST_CHUNK, {"k_digest": digest}).one_or_none()
    return None if row is None else (row.chunks, row.data)


class DatabaseSnapshotStore(Retained):
    """Immutable JSON-lines blobs addressed by `sha256:<hex>` in the shared database.

    Blobs not written for `retention` are deleted (at most hourly per process, when a new snapshot starts): long
    enough for every workflow that may still read one (campaigns keep rollback state for 7 days)."""

    default_retention = RETENTION

    def writer(self) -> DatabaseSnapshotWriter:
        self.prune_if_due()
        return DatabaseSnapshotWriter(self.db)

    def _delete_before(self, cutoff: float) -> int:
        old = sa.select(snapshot_blobs.c.digest).where(snapshot_blobs.c.created_at < cutoff)
        with self.db.write() as conn:
            conn.execute(sa.delete(snapshot_chunks).where(snapshot_chunks.c.digest.in_(old)))
            return conn.execute(sa.delete(snapshot_blobs).where(snapshot_blobs.c.digest.in_(old))).rowcount

    def put_lines(self, items: Iterable[Any]) -> str:
        return _put_lines(self, items)

    def put_many(self, blobs: Sequence[Sequence[Any]]) -> list[str]:
        """Several small snapshots (a chunk of changes' before and after states) in one transaction (`put_lines`
        takes one each): one statement refreshes those already stored and names them, the others are inserted
        together. Each blob is held in memory whole: stream large ones with `put_lines`."""
        self.prune_if_due()
        encoded: dict[str, tuple[bytes, int]] = {}
        digests: list[str] = []
        for items in blobs:
            raw = b"".join(_line(item) for item in items)
            digest = PREFIX + hashlib.sha256(raw).hexdigest()
            encoded[digest] = (raw, len(items))
            digests.append(digest)
        if not encoded:
            return digests
        _store_small(self.db, encoded)
        return digests

    def read_lines(self, digest: str) -> Iterator[Any]:
        """Yield the stored items in order, one chunk in memory at a time; refuses content that no longer
        matches its name."""
        _path_for(Path("."), digest)  # validates the digest's shape
        first = _first_chunk(self.db, digest)
        if first is None:
            raise SnapshotNotFound(f"snapshot {digest} is not in the database {self.db.where}")
        chunks, data = first
        check = hashlib.sha256()
        rest = b""
        for seq in range(chunks):
            if seq > 0:
                with self.db.read() as conn:
                    data = conn.execute(_CHUNK_DATA, {"k_digest": digest, "k_seq": seq}).scalar_one_or_none()
            if data is None:
                raise MendflowError(f"snapshot {digest} in {self.db.where} is corrupt (chunk {seq} is missing)")
            raw = zlib.decompress(data)
            check.update(raw)
            lines = (rest + raw).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield json.loads(line)
        if rest:
            yield json.loads(rest)
        if PREFIX + check.hexdigest() != digest:
            raise MendflowError(f"snapshot {digest} in {self.db.where} is corrupt (content hash differs)")
