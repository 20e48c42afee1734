"""Export a window of the shared database as a signed evidence bundle (layout: `bundle.py`).

Pipeline: the audit chain segment whose records fall in [since, until) — links checked while it streams, so a
broken chain is refused rather than signed → decisions and changes as views of it (`changes.py`) → the
snapshots those changes name, re-checked against their digests → ledger findings seen or changed in the window,
redacted, with their status history → the compliance mapping → manifest of every file's sha256, signed.

Secrets: audit lines cannot be re-redacted without breaking the chain, and were redacted when appended, so a
line that the redactor would change now is refused; findings and snapshots are redacted on the way out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mendflow.audit import GENESIS, AuditTampered
from mendflow.auth.proof import b64encode
from mendflow.errors import InputError, MendflowError
from mendflow.evidence.bundle import (
    AUDIT,
    CHANGES,
    COMPLIANCE,
    DECISIONS,
    FINDINGS,
    MANIFEST,
    SIGNATURE,
    AuditSegment,
    Manifest,
    Signature,
    canonical,
    jsonl,
    sha256,
    snapshot_path,
)
from mendflow.evidence.changes import CHANGE_KIND, DECISION_KINDS, changes_of, decisions_of, snapshot_digests
from mendflow.evidence.compliance import Framework, compliance_map
from mendflow.evidence.keys import fingerprint, public_text
from mendflow.evidence.snapshots import PREFIX, DatabaseSnapshotStore, SnapshotNotFound, _line
from mendflow.redaction import redact, redact_value
from mendflow.store import Database
from mendflow.store.schema import audit_log, finding_events, findings


@dataclass
class Exported:
    """A bundle's files, ready for `write_bundle`, and what to tell the person who asked for it."""

    files: dict[str, bytes]
    manifest: Manifest
    signature: Signature
    counts: dict[str, int] = field(default_factory=dict)


def utc(value: datetime) -> datetime:
    """A time given without a zone is UTC (what every mendflow timestamp is)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def export_evidence(
    db: Database, *, since: datetime, until: datetime, framework: Framework | None, key: Ed25519PrivateKey
) -> Exported:
    """Everything of [since, until) as bundle files, signed with `key`."""
    since, until = utc(since), utc(until)
    if since >= until:
        raise InputError(f"--since {since.isoformat()} is not before --until {until.isoformat()}")
    lines, records, segment = _audit_segment(db, f"{db.where}#audit_log", since, until)
    changes = changes_of(records)
    decisions = decisions_of(records)
    files: dict[str, bytes] = {
        AUDIT: b"".join(line + b"\n" for line in lines),
        CHANGES: jsonl(changes),
        DECISIONS: jsonl(decisions),
    }
    snapshots, missing = _snapshots(db, snapshot_digests(changes))
    files.update(snapshots)
    entries = _findings(db, since, until)
    files[FINDINGS] = jsonl(entries)
    files[COMPLIANCE] = canonical(compliance_map(framework, entries).model_dump(mode="json"))
    counts = {
        "audit_events": segment.count,
        "changes": len(changes),
        "decisions": len(decisions),
        "findings": len(entries),
        "snapshots": len(snapshots),
    }
    manifest = Manifest(
        since=since.isoformat(),
        until=until.isoformat(),
        framework=framework.value if framework else "all",
        source=db.where,
        audit=segment,
        counts=counts,
        missing_snapshots=missing,
        files={name: sha256(data) for name, data in sorted(files.items())},
    )
    body = canonical(manifest.model_dump(mode="json")) + b"\n"
    public = public_text(key)
    signature = Signature(key_id=fingerprint(public), public_key=public, signature=b64encode(key.sign(body)))
    files[MANIFEST] = body
    files[SIGNATURE] = canonical(signature.model_dump(mode="json")) + b"\n"
    return Exported(files=files, manifest=manifest, signature=signature, counts=counts)


def _snapshots(db: Database, digests: list[str]) -> tuple[dict[str, bytes], list[str]]:
    """Bundle path → content of each snapshot still stored, and the digests past retention."""
    store = DatabaseSnapshotStore(db)
    found: dict[str, bytes] = {}
    missing = []
    for digest in digests:
        try:
            data = b"".join(_line(redact_value(item)) for item in store.read_lines(digest))
        except SnapshotNotFound:
            missing.append(digest)
            continue
        if PREFIX + sha256(data) != digest:  # stored redacted; a value redacted only now would change it
            raise MendflowError(f"snapshot {digest} holds a value that is now a known secret: not exported")
        found[snapshot_path(digest)] = data
    return found, missing


def _audit_segment(
    db: Database, where: str, since: datetime, until: datetime
) -> tuple[list[bytes], list[dict[str, Any]], AuditSegment]:
    """The contiguous run of records from the first at or after `since` to the last before `until`: the lines as
    hashed, the decision and change records among them parsed (only those: memory), and where the run sits."""
    kept: list[bytes] = []
    parsed: list[tuple[int, dict[str, Any]]] = []  # (index in `kept`, record) of decisions and changes
    last_in = 0  # how many of `kept` end at the last record inside the window
    first_seq = last_seq = None
    expected = GENESIS
    anchor = ""
    with db.read() as conn:
        rows = conn.execution_options(yield_per=1000).execute(
            sa.select(audit_log.c.seq, audit_log.c.line).order_by(audit_log.c.seq)
        )
        try:
            for seq, text in rows:
                line = text.encode()
                try:
                    record = json.loads(line)
                    at = _when(record["at"])
                except (ValueError, KeyError, TypeError):
                    raise AuditTampered(where, seq, "not a JSON record with an `at` time: not exported") from None
                if record.get("prev") != expected:
                    raise AuditTampered(where, seq, "`prev` does not match the record before it: not exported")
                expected = sha256(line)
                inside = since <= at < until
                if inside and first_seq is None:
                    first_seq, anchor = seq, record["prev"]
                if first_seq is None:
                    continue
                if redact(text) != text:
                    raise MendflowError(f"{where}: audit record {seq} holds a value that is now a known secret")
                if record.get("kind") == CHANGE_KIND or record.get("kind") in DECISION_KINDS:
                    parsed.append((len(kept), record))
                kept.append(line)
                if inside:
                    last_in, last_seq = len(kept), seq
        finally:
            rows.close()
    kept = kept[:last_in]
    head = sha256(kept[-1]) if kept else ""
    return (
        kept,
        [r for i, r in parsed if i < last_in],
        AuditSegment(count=len(kept), first_seq=first_seq, last_seq=last_seq, anchor=anchor, head=head),
    )


def _findings(db: Database, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Ledger rows first seen before `until` and seen, or changed status, since `since`; with that history."""
    t, e = findings, finding_events
    history: dict[tuple[str, str], list[dict[str, str]]] = {}
    with db.read() as conn:
        for tenant, fp, at, status, reason in conn.execute(
            sa.select(e.c.tenant, e.c.fingerprint, e.c.at, e.c.status, e.c.reason).order_by(e.c.seq)
        ):
            if since <= _when(at) < until:
                history.setdefault((tenant, fp), []).append({"at": at, "status": status, "reason": reason})
        rows = conn.execute(
            sa.select(
                t.c.tenant,
                t.c.fingerprint,
                t.c.status,
                t.c.resolution,
                t.c.false_positive,
                t.c.campaign,
                t.c.first_seen,
                t.c.last_seen,
                t.c.opened_at,
                t.c.body,
            ).order_by(t.c.tenant, t.c.fingerprint)
        ).all()
    out = []
    for tenant, fp, status, resolution, false_positive, campaign, first, last, opened, body in rows:
        if _when(first) >= until or (_when(last) < since and (tenant, fp) not in history):
            continue
        out.append(
            {
                "tenant": tenant,
                "fingerprint": fp,
                "status": status,
                "resolution": resolution,
                "false_positive": bool(false_positive),
                "campaign": campaign,
                "first_seen": first,
                "last_seen": last,
                "opened_at": opened,
                "history": history.get((tenant, fp), []),
                "finding": redact_value(json.loads(body)),
            }
        )
    return out


def _when(stamp: str) -> datetime:
    return utc(datetime.fromisoformat(stamp))


__all__ = ["Exported", "export_evidence", "utc"]
