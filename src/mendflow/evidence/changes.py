"""Changes and decisions as evidence: what a campaign wrote is an audit event, so the chain covers it.

The change activity calls `record_change` once it has written and re-read a resource (and the restore activity
once it has put the captured state back): the before and after states go to the snapshot store (redacted first:
they are evidence copies, the workflow keeps its own for rollback) and an audit event carries their digests. An
evidence bundle's `changes.jsonl` and `decisions.jsonl` are views of its audit segment (`changes_of`,
`decisions_of`), so the verifier recomputes them from the chain instead of trusting them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mendflow.audit import AuditEvent, AuditLog
from mendflow.evidence.snapshots import Snapshots
from mendflow.models import Change, Outcome
from mendflow.redaction import redact_value

CHANGE_KIND = "campaign.change"
"""Audit kind of a write (or restore) a campaign made on a vendor resource."""

DECISION_KINDS = frozenset({"decision", "slack.decision", "suppression", "control"})
"""Audit kinds of what people decided: approvals and rejections (operator API / CLI, Slack buttons), risk
acceptances (suppressions) and operator controls (pause, resume, abort, rollback); accepted or refused."""

_CHANGE_FIELDS = ("tenant", "fingerprint", "resource", "resource_type", "action", "result", "before", "after")


@dataclass(frozen=True)
class ChangeRecord:
    """One write (or restore) of a campaign to put on the record."""

    tenant_key: str
    fingerprint: str
    change: Change
    result: Outcome
    detail: str = ""


def record_change(
    audit: AuditLog,
    snapshots: Snapshots,
    *,
    campaign_id: str,
    tenant_key: str,
    fingerprint: str,
    change: Change,
    result: Outcome,
    detail: str = "",
) -> dict[str, Any]:
    """Store `change.before`/`change.after` by digest and append the change to the audit chain."""
    entry = ChangeRecord(tenant_key=tenant_key, fingerprint=fingerprint, change=change, result=result, detail=detail)
    return record_changes(audit, snapshots, campaign_id=campaign_id, entries=[entry])[0]


def record_changes(
    audit: AuditLog, snapshots: Snapshots, *, campaign_id: str, entries: list[ChangeRecord]
) -> list[dict[str, Any]]:
    """`record_change` for many changes at once: each distinct state is stored once (a chunk's changes mostly
    share their before and after), all of them in one transaction, and the events join the chain in one append."""
    keys: dict[str, int] = {}
    states: list[list[dict[str, Any]]] = []

    def index(state: dict[str, Any]) -> int:
        redacted = redact_value(state)
        key = json.dumps(redacted, sort_keys=True, default=str)
        if key not in keys:
            keys[key] = len(states)
            states.append([redacted])
        return keys[key]

    held = [(index(e.change.before), index(e.change.after)) for e in entries]
    digests = snapshots.put_many(states)
    stored = [(digests[before], digests[after]) for before, after in held]
    events = [
        AuditEvent(
            kind=CHANGE_KIND,
            outcome="accepted" if e.result in (Outcome.verified, Outcome.restored) else "error",
            reason=e.detail,
            channel="worker",
            campaign_id=campaign_id,
            details={
                "tenant": e.tenant_key,
                "fingerprint": e.fingerprint,
                "resource": e.change.resource.id,
                "resource_type": e.change.resource.type,
                "action": e.change.action,
                "result": e.result.value,
                "before": before,
                "after": after,
            },
        )
        for e, (before, after) in zip(entries, stored, strict=True)
    ]
    return audit.append_many(events)


def changes_of(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `changes.jsonl` entries of an audit segment, in chain order."""
    out = []
    for record in records:
        if record.get("kind") != CHANGE_KIND:
            continue
        details = record.get("details") or {}
        entry = {"at": record.get("at"), "campaign": record.get("campaign_id", "")}
        entry.update({name: details.get(name) for name in _CHANGE_FIELDS})
        out.append(entry)
    return out


def decisions_of(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `decisions.jsonl` entries of an audit segment (the records themselves), in chain order."""
    return [record for record in records if record.get("kind") in DECISION_KINDS]


def snapshot_digests(changes: Iterable[dict[str, Any]]) -> list[str]:
    """Every snapshot the changes refer to, sorted, once each."""
    return sorted({d for c in changes for d in (c.get("before"), c.get("after")) if isinstance(d, str) and d})


__all__ = [
    "CHANGE_KIND",
    "DECISION_KINDS",
    "ChangeRecord",
    "changes_of",
    "decisions_of",
    "record_change",
    "record_changes",
    "snapshot_digests",
]
