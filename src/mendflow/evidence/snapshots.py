"""Content-addressed snapshot store: inventories and findings are stored once, named by their sha256.

Workflows pass the digest, never the content (Temporal payloads stay small; the same content is stored once).
Resources are written as JSON lines while they stream in, so a scan never holds a second copy in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mendflow.errors import MendflowError

PREFIX = "sha256:"


class SnapshotNotFound(MendflowError):
    """A digest names no stored snapshot (wrong data directory, or the store was cleaned)."""


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
        line = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str).encode() + b"\n"
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

    def put_lines(self, items: list[Any]) -> str:
        writer = self.writer()
        try:
            for item in items:
                writer.write(item)
        except BaseException:
            writer.discard()
            raise
        return writer.close()

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
