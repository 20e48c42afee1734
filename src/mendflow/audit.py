"""A tamper-evident audit log: JSON lines, each carrying `prev` = sha256 of the line before it.

Every decision and every refusal taken at a channel (Slack clicks, API calls) is appended here with who, what
and why. Deleting, reordering or editing a line breaks the chain, and `verify()` names the first broken line.
Secrets never reach the file: every event is passed through `redaction.redact_value` before it is written.

Two places to keep the chain, one API: a JSON-lines file (`AuditLog(path)`; appends from several processes on
one machine take an exclusive `flock` and read the last line under it) or the shared database
(`AuditLog(database)`: every API replica and worker appends to one chain; an append reads the newest row and
inserts the next under a lock — a PostgreSQL advisory lock, or SQLite's write lock — and `prev` is unique, so
the chain can never fork). In the database, `line` holds the record exactly as it was hashed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from mendflow.errors import MendflowError
from mendflow.redaction import redact_value
from mendflow.store import Database
from mendflow.store.schema import audit_log

GENESIS = "0" * 64
"""`prev` of the first record."""

# Built once: an append runs these on every chunk of a campaign, and building a statement costs several times what
# running it on SQLite does.
_NEWEST = sa.select(audit_log.c.line).order_by(audit_log.c.seq.desc()).limit(1)
_INSERT = sa.insert(audit_log)


class AuditEvent(BaseModel):
    """One thing that happened at a channel: a decision passed on, or a request refused (and why)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    """Dotted name, e.g. `slack.decision`, `slack.refused`."""
    outcome: str
    """`accepted`, `refused`, `ignored`, `error`."""
    reason: str = ""
    """Why (for refusals: what was wrong, in words an auditor understands)."""
    channel: str = ""
    actor: str = ""
    """mendflow identity, when known."""
    channel_user: str = ""
    """The id the channel knows the person by (Slack `U…`)."""
    campaign_id: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    at: datetime | None = None
    """Filled in from the log's clock when absent."""


class AuditTampered(MendflowError):
    """The chain is broken: a line was edited, removed or reordered."""

    def __init__(self, path: Path | str, line: int, problem: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: audit chain broken: {problem}")


def _digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _last_line(handle: BinaryIO) -> bytes:
    """The last non-empty line of a file opened for reading in binary mode."""
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    chunk = 4096
    data = b""
    position = end
    while position > 0:
        step = min(chunk, position)
        position -= step
        handle.seek(position)
        data = handle.read(step) + data
        stripped = data.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return data.rstrip(b"\n")


def _encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _verify_lines(where: Path | str, lines: Iterator[tuple[int, bytes]]) -> int:
    expected = GENESIS
    count = 0
    for number, line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            raise AuditTampered(where, number, "not a JSON object") from None
        if not isinstance(record, dict) or record.get("prev") != expected:
            raise AuditTampered(where, number, "`prev` does not match the line before it")
        expected = _digest(line)
        count += 1
    return count


class AuditLog:
    """Append-only, hash-chained audit log in a JSONL file at `path` (created on first append) or in a database."""

    def __init__(
        self, target: Path | Database, *, fsync: bool = True, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.db = target if isinstance(target, Database) else None
        self.path = Path(target) if not isinstance(target, Database) else None
        """The file, for a file-backed log (None in a database)."""
        self.fsync = fsync
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """The file, or the database (password masked) and table."""
        return f"{self.db.where}#audit_log" if self.db is not None else str(self.path)

    def append(self, event: AuditEvent) -> dict[str, Any]:
        """Write `event` (redacted) as the next link of the chain; returns the record as written."""
        return self.append_many([event])[0]

    def append_many(self, events: list[AuditEvent]) -> list[dict[str, Any]]:
        """Write `events` (redacted) as the next links of the chain, in order, at once (one transaction or one
        locked write: a chunk of changes costs one round trip, not one each); returns the records as written."""
        records: list[dict[str, Any]] = [redact_value(event.model_dump(mode="json")) for event in events]
        for record in records:
            if not record.get("at"):
                record["at"] = self._clock().isoformat()
        if not records:
            return records
        if self.db is not None:
            return self._append_rows(self.db, records)
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                last = _last_line(handle)
                lines = []
                for record in records:
                    record["prev"] = _digest(last) if last else GENESIS
                    last = _encode(record)
                    lines.append(last + b"\n")
                handle.seek(0, os.SEEK_END)
                handle.write(b"".join(lines))
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return records

    def _append_rows(self, db: Database, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with db.write() as conn:
            db.lock(conn, "mendflow.audit")
            last = conn.execute(_NEWEST).scalar_one_or_none()
            previous = last.encode() if last is not None else None
            rows = []
            for record in records:
                record["prev"] = _digest(previous) if previous is not None else GENESIS
                previous = _encode(record)
                rows.append({"prev": record["prev"], "line": previous.decode()})
            # One executemany: the driver runs the rows in order (psycopg pipelines them in one round trip), so seq
            # still follows the chain's order on every backend.
            conn.execute(_INSERT, rows)
        return records

    def _lines(self) -> Generator[tuple[int, bytes]]:
        """(line number, raw record) oldest first; empty lines of a file are skipped but counted."""
        if self.db is not None:
            with self.db.read() as conn:
                rows = conn.execution_options(yield_per=500).execute(
                    sa.select(audit_log.c.line).order_by(audit_log.c.seq)
                )
                try:
                    for number, (line,) in enumerate(rows, start=1):
                        yield number, line.encode()
                finally:
                    rows.close()  # a server-side cursor on PostgreSQL
            return
        assert self.path is not None
        if not self.path.exists():
            return
        for number, line in enumerate(self.path.read_bytes().split(b"\n"), start=1):
            if line:
                yield number, line

    def records(self) -> list[dict[str, Any]]:
        """Every record, oldest first (empty if the log does not exist yet)."""
        lines = self._lines()
        try:
            return [json.loads(line) for _, line in lines if line.strip()]
        finally:
            lines.close()

    def verify(self) -> int:
        """Check the whole chain; returns the number of records, raises `AuditTampered` at the first break."""
        lines = self._lines()
        try:
            return _verify_lines(self.path if self.path is not None else self.where, lines)
        finally:
            lines.close()  # ends the database cursor at once, also when a break was found


__all__ = ["GENESIS", "AuditEvent", "AuditLog", "AuditTampered"]
