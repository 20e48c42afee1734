"""The hash-chained audit log: each line's `prev` is the sha256 of the line before; tampering is found."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from mendflow.audit import GENESIS, AuditEvent, AuditLog, AuditTampered
from mendflow.redaction import MASK, register_secret


def _event(n: int) -> AuditEvent:
    return AuditEvent(kind="slack.decision", outcome="refused", reason=f"reason {n}", campaign_id=f"c{n}")


def test_records_chain_by_sha256_of_the_previous_line(tmp_path: Path) -> None:
    """The first `prev` is the genesis value; each next one is sha256 of the raw previous line."""
    log = AuditLog(tmp_path / "a.jsonl", fsync=False)
    for n in range(3):
        log.append(_event(n))
    lines = (tmp_path / "a.jsonl").read_bytes().splitlines()
    assert json.loads(lines[0])["prev"] == GENESIS
    assert json.loads(lines[2])["prev"] == hashlib.sha256(lines[1]).hexdigest()
    assert log.verify() == 3
    assert all(r["at"] for r in log.records())


@pytest.mark.parametrize("tamper", ["edit", "delete", "swap"])
def test_tampering_is_detected_at_the_first_broken_line(tmp_path: Path, tamper: str) -> None:
    """Editing, deleting or reordering a line makes verify() raise, naming the line."""
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, fsync=False)
    for n in range(4):
        log.append(_event(n))
    lines = path.read_bytes().splitlines()
    if tamper == "edit":
        lines[1] = lines[1].replace(b"reason 1", b"reason X")
    elif tamper == "delete":
        del lines[1]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(AuditTampered, match=r"a\.jsonl:(2|3): audit chain broken"):
        log.verify()


def test_secrets_are_redacted_before_writing(tmp_path: Path) -> None:
    """A registered secret in a reason or detail never reaches the file."""
    register_secret("audit-canary-secret-77")
    log = AuditLog(tmp_path / "a.jsonl", fsync=False)
    log.append(
        AuditEvent(kind="k", outcome="error", reason="audit-canary-secret-77", details={"x": "audit-canary-secret-77"})
    )
    text = (tmp_path / "a.jsonl").read_text()
    assert "audit-canary-secret-77" not in text and MASK in text


def test_concurrent_appends_keep_one_chain(tmp_path: Path) -> None:
    """Appends from several threads (and log objects) on one file still form a single valid chain."""
    path = tmp_path / "a.jsonl"

    def work(offset: int) -> None:
        log = AuditLog(path, fsync=False)
        for n in range(25):
            log.append(_event(offset + n))

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert AuditLog(path).verify() == 100


def test_missing_log_verifies_as_empty(tmp_path: Path) -> None:
    """A log that was never written has zero records and verifies."""
    assert AuditLog(tmp_path / "none.jsonl").verify() == 0
