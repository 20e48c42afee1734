"""The findings ledger: what is open, since when, and which campaign owns it.

Reconciling a scan against the ledger decides what is new, still open, or gone. A finding handed to a campaign
is marked `remediating`, so later scans never start a second campaign for it. SQLite in the data directory for
the embedded default (one worker); the interface is small so a shared database can replace it at scale.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from mendflow.models import Finding


class FindingStatus(StrEnum):
    open = "open"
    remediating = "remediating"
    resolved = "resolved"
    failed = "failed"
    rolled_back = "rolled_back"
    suppressed = "suppressed"


ACTIVE = (
    FindingStatus.open,
    FindingStatus.remediating,
    FindingStatus.failed,
    FindingStatus.rolled_back,
    FindingStatus.suppressed,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS findings (
    fingerprint TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    rule TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    campaign TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_tenant ON findings (tenant, status);
"""


class LedgerRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    finding: Finding
    status: FindingStatus
    campaign: str | None
    first_seen: datetime
    last_seen: datetime


class Reconciliation(BaseModel):
    """What one scan changed in the ledger."""

    model_config = ConfigDict(frozen=True)

    new: list[str]
    still_open: list[str]
    gone: list[str]
    unclaimed: list[LedgerRow]
    """Open findings of this scan that no campaign owns yet (new ones, and open ones left by earlier scans)."""


def campaign_id(tenant: str, rule: str, rows: Iterable[LedgerRow]) -> str:
    """Derived from content: the same open findings always map to the same workflow id, and a finding that
    was resolved and came back (a new `first_seen`) maps to a new one."""
    material = sorted(f"{row.finding.fingerprint}@{row.first_seen.isoformat()}" for row in rows)
    digest = hashlib.sha256("\n".join(material).encode()).hexdigest()[:16]
    return f"remediate/{tenant}/{rule}/{digest}"


class FindingsLedger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def reconcile(
        self, tenant: str, findings: Sequence[Finding], *, rules: Iterable[str], seen_at: datetime
    ) -> Reconciliation:
        """Record a scan's findings; those of evaluated `rules` that did not come back are resolved."""
        evaluated = set(rules)
        current = {f.fingerprint: f for f in findings}
        now = seen_at.isoformat()
        with closing(self._connect()) as db, db:
            rows = db.execute("SELECT fingerprint, rule, status FROM findings WHERE tenant = ?", (tenant,)).fetchall()
            known = {fp: (rule, FindingStatus(status)) for fp, rule, status in rows}
            new, still_open, gone = [], [], []
            for fp, finding in current.items():
                body = finding.model_dump_json()
                if fp not in known:
                    new.append(fp)
                    db.execute(
                        "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
                        (
                            fp,
                            tenant,
                            finding.rule,
                            finding.resource.id,
                            finding.severity.value,
                            FindingStatus.open.value,
                            now,
                            now,
                            body,
                        ),
                    )
                    continue
                status = known[fp][1]
                if status == FindingStatus.resolved:
                    new.append(fp)  # it came back: a regression is a new finding again
                    db.execute(
                        "UPDATE findings SET status = ?, campaign = NULL, first_seen = ?, last_seen = ?, body = ? "
                        "WHERE fingerprint = ?",
                        (FindingStatus.open.value, now, now, body, fp),
                    )
                else:
                    still_open.append(fp)
                    db.execute("UPDATE findings SET last_seen = ?, body = ? WHERE fingerprint = ?", (now, body, fp))
            for fp, (rule, status) in known.items():
                if fp not in current and rule in evaluated and status in ACTIVE:
                    gone.append(fp)
                    db.execute(
                        "UPDATE findings SET status = ? WHERE fingerprint = ?",
                        (FindingStatus.resolved.value, fp),
                    )
        unclaimed = [
            row
            for row in self.rows(tenant)
            if row.status == FindingStatus.open and row.campaign is None and row.finding.fingerprint in current
        ]
        return Reconciliation(new=sorted(new), still_open=sorted(still_open), gone=sorted(gone), unclaimed=unclaimed)

    def claim(self, fingerprints: Iterable[str], campaign: str) -> list[str]:
        """Hand open, unowned findings to a campaign; returns those actually claimed (idempotent per campaign)."""
        claimed = []
        with closing(self._connect()) as db, db:
            for fp in fingerprints:
                cur = db.execute(
                    "UPDATE findings SET status = ?, campaign = ? WHERE fingerprint = ? "
                    "AND ((status = ? AND campaign IS NULL) OR campaign = ?)",
                    (FindingStatus.remediating.value, campaign, fp, FindingStatus.open.value, campaign),
                )
                if cur.rowcount:
                    claimed.append(fp)
        return claimed

    def settle(self, outcomes: dict[str, FindingStatus], campaign: str) -> None:
        """Record how a campaign ended for each of its findings."""
        with closing(self._connect()) as db, db:
            for fp, status in outcomes.items():
                # An open finding is released (no campaign), so the next scan can start a new one for it.
                db.execute(
                    "UPDATE findings SET status = ?, campaign = CASE WHEN ? = 'open' THEN NULL ELSE campaign END "
                    "WHERE fingerprint = ? AND campaign = ?",
                    (status.value, status.value, fp, campaign),
                )

    def find(self, fingerprint: str) -> LedgerRow | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT body, status, campaign, first_seen, last_seen FROM findings WHERE fingerprint = ?",
                (fingerprint,),
            ).fetchone()
        return None if row is None else _row(*row)

    def suppress(self, fingerprint: str, *, reference: str) -> bool:
        """Park a finding as accepted risk (no campaign is started for it); False if it is not open."""
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "UPDATE findings SET status = ?, campaign = ? WHERE fingerprint = ? AND status IN (?, ?, ?)",
                (FindingStatus.suppressed.value, reference, fingerprint, FindingStatus.open.value,
                 FindingStatus.failed.value, FindingStatus.rolled_back.value),
            )  # fmt: skip
            return cur.rowcount == 1

    def reopen(self, fingerprint: str, *, reference: str) -> bool:
        """End a suppression: the finding is open again (unless it was resolved meanwhile)."""
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "UPDATE findings SET status = ?, campaign = NULL WHERE fingerprint = ? AND status = ? AND campaign = ?",
                (FindingStatus.open.value, fingerprint, FindingStatus.suppressed.value, reference),
            )
            return cur.rowcount == 1

    def rows(self, tenant: str) -> list[LedgerRow]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT body, status, campaign, first_seen, last_seen FROM findings "
                "WHERE tenant = ? ORDER BY rule, resource_id",
                (tenant,),
            ).fetchall()
        return [_row(*row) for row in rows]


def _row(body: str, status: str, campaign: str | None, first: str, last: str) -> LedgerRow:
    return LedgerRow(
        finding=Finding.model_validate_json(body),
        status=FindingStatus(status),
        campaign=campaign,
        first_seen=datetime.fromisoformat(first),
        last_seen=datetime.fromisoformat(last),
    )
