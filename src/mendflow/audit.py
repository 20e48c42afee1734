"""A tamper-evident audit log: JSON lines, each carrying `prev` = sha256 of the line before it.

Every decision and every refusal taken at a channel (Slack clicks, API calls) is appended here with who, what
and why. Deleting, reordering or editing a line breaks the chain, and `verify()` names the first broken line.
Secrets never reach the file: every event is passed through `redaction.redact_value` before it is written.

One file may be shared by several processes: appends take an exclusive `flock` and read the last line under it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict, Field

from mendflow.errors import MendflowError
from mendflow.redaction import redact_value

GENESIS = "0" * 64
"""`prev` of the first record."""


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

    def __init__(self, path: Path, line: int, problem: str) -> None:
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


class AuditLog:
    """Append-only, hash-chained JSONL audit log at `path` (created on first append)."""

    def __init__(self, path: Path, *, fsync: bool = True, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    def append(self, event: AuditEvent) -> dict[str, Any]:
        """Write `event` (redacted) as the next link of the chain; returns the record as written."""
        record: dict[str, Any] = redact_value(event.model_dump(mode="json"))
        if not record.get("at"):
            record["at"] = self._clock().isoformat()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                last = _last_line(handle)
                record["prev"] = _digest(last) if last else GENESIS
                line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
                handle.seek(0, os.SEEK_END)
                handle.write(line + b"\n")
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return record

    def records(self) -> list[dict[str, Any]]:
        """Every record, oldest first (empty if the log does not exist yet)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_bytes().splitlines() if line.strip()]

    def verify(self) -> int:
        """Check the whole chain; returns the number of records, raises `AuditTampered` at the first break."""
        if not self.path.exists():
            return 0
        expected = GENESIS
        count = 0
        for number, line in enumerate(self.path.read_bytes().split(b"\n"), start=1):
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise AuditTampered(self.path, number, "not a JSON object") from None
            if not isinstance(record, dict) or record.get("prev") != expected:
                raise AuditTampered(self.path, number, "`prev` does not match the line before it")
            expected = _digest(line)
            count += 1
        return count


__all__ = ["GENESIS", "AuditEvent", "AuditLog", "AuditTampered"]
