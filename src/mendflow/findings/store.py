"""The findings ledger: what is open, since when, and which campaign owns it.

Reconciling a scan against the ledger decides what is new, still open, regressed or gone. A finding handed to
a campaign is marked `remediating`, so later scans never start a second campaign for it. The ledger lives in the
shared database (`mendflow.store`): SQLite in the data directory for the embedded default, PostgreSQL when
several workers share it. Rows are keyed by (tenant key, fingerprint), so two tenant keys whose organisations
share a name never collide.

Lifecycle: a finding resolves only when its resource was read and the rule no longer fires, or when a complete
scan no longer has the resource (`resource deleted`). Who fixed it decides the reason: `fixed by mendflow` only
when its campaign verified a change it wrote (`mark_verified`, recorded by the change activity, so a scan that
reads the fix before the campaign settles says so too); otherwise `fixed elsewhere` (a person fixed it by hand,
even while a campaign waited for approval, or a campaign found it already fixed and skipped it). A scan with
coverage gaps resolves nothing it did not read. A resolved finding that comes back is `regressed`: it keeps
`first_seen`, and `opened_at` (which the campaign id is derived from) moves, so it is fixed again by a new
campaign.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection

from mendflow.models import Finding
from mendflow.store import Database
from mendflow.store.schema import finding_events, findings


class FindingStatus(StrEnum):
    open = "open"
    regressed = "regressed"
    """Open again after it had resolved (first seen earlier)."""
    remediating = "remediating"
    resolved = "resolved"
    failed = "failed"
    rolled_back = "rolled_back"
    suppressed = "suppressed"


class Resolution(StrEnum):
    """Why a finding resolved."""

    fixed_by_mendflow = "fixed by mendflow"
    """Its campaign wrote a change and verified it (re-read, and the rule no longer fires)."""
    fixed_elsewhere = "fixed elsewhere"
    """Its resource was read and the rule no longer fires, and no campaign verified a change of its own."""
    resource_deleted = "resource deleted"
    """A complete collection no longer has the resource."""
    gone = "gone"
    """No longer reported by a complete scan that could not say whether the resource was read."""

    @classmethod
    def _missing_(cls, value: object) -> Resolution | None:
        # rows written before "fixed" was split into its two reasons
        return cls.fixed_elsewhere if value == "fixed" else None


ACTIVE = (
    FindingStatus.open,
    FindingStatus.regressed,
    FindingStatus.remediating,
    FindingStatus.failed,
    FindingStatus.rolled_back,
    FindingStatus.suppressed,
)
CLAIMABLE = (FindingStatus.open, FindingStatus.regressed)
SETTLE_CHUNK = 500
"""Findings settled per statement: well under SQLite's and PostgreSQL's limits on bound parameters."""


class LedgerRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    finding: Finding
    status: FindingStatus
    campaign: str | None
    first_seen: datetime
    last_seen: datetime
    opened_at: datetime | None = None
    """When it was last opened (first seen, or seen again after resolving); None only for rows built by hand."""
    resolution: Resolution | None = None
    tenant: str = ""
    """The ledger's tenant key (`github:acme`), which `finding.tenant` (the vendor's org name) is not."""
    false_positive: bool = False
    """Marked a false positive by a person (`mendflow mark-false-positive`): not counted as open (M7)."""


class Reconciliation(BaseModel):
    """What one scan changed in the ledger."""

    model_config = ConfigDict(frozen=True)

    new: list[str]
    still_open: list[str]
    gone: list[str]
    unclaimed: list[LedgerRow]
    """Open findings of this scan that no campaign owns yet (new ones, and open ones left by earlier scans)."""
    regressed: list[str] = []
    """Resolved before, back now (also counted in `new`)."""
    unverified: list[str] = []
    """Not reported, but their resource was not read (a coverage gap): kept open."""


def campaign_id(tenant: str, rule: str, rows: Iterable[LedgerRow]) -> str:
    """Derived from content: the same open findings always map to the same workflow id, and a finding that
    was resolved and came back (a new `opened_at`) maps to a new one."""
    material = sorted(f"{row.finding.fingerprint}@{(row.opened_at or row.first_seen).isoformat()}" for row in rows)
    digest = hashlib.sha256("\n".join(material).encode()).hexdigest()[:16]
    return f"remediate/{tenant}/{rule}/{digest}"


_COLUMNS = (
    findings.c.tenant,
    findings.c.body,
    findings.c.status,
    findings.c.campaign,
    findings.c.first_seen,
    findings.c.last_seen,
    findings.c.opened_at,
    findings.c.resolution,
    findings.c.false_positive,
)


class FindingsLedger:
    """The `findings` table of a database (a path means a SQLite file there, for the embedded default)."""

    def __init__(self, target: Database | Path) -> None:
        self.db = target if isinstance(target, Database) else Database.open(f"sqlite:///{Path(target).resolve()}")

    def reconcile(
        self,
        tenant: str,
        findings_now: Sequence[Finding],
        *,
        rules: Iterable[str],
        seen_at: datetime,
        read: Collection[str] | None = None,
        complete: bool = True,
        covered: Collection[str] = (),
    ) -> Reconciliation:
        """Record a scan's findings and resolve the ones of evaluated `rules` that are really gone.

        `read` is the set of resource ids the scan read (None: unknown); `complete` is False when the scan had
        coverage gaps. A missing finding whose resource was read is fixed; one whose resource was not read is
        deleted only if the scan was complete, and otherwise stays open (`unverified`). `covered` (targeted
        rescans): ids each read completely with everything under it; a finding there whose resource was not read is
        about a deleted resource, even though the scan as a whole was not complete.
        """
        evaluated = set(rules)
        current = {f.fingerprint: f for f in findings_now}
        now = seen_at.isoformat()
        t = findings
        new: list[str] = []
        regressed: list[str] = []
        still_open: list[str] = []
        gone: list[str] = []
        unverified: list[str] = []
        inserts: list[dict[str, Any]] = []
        reopen: list[dict[str, Any]] = []
        touch: list[dict[str, Any]] = []
        resolve: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        with self.db.write() as conn:
            self.db.lock(conn, f"ledger:{tenant}")
            known = {
                fp: (rule, resource_id, FindingStatus(status), resolution)
                for fp, rule, resource_id, status, resolution in conn.execute(
                    sa.select(t.c.fingerprint, t.c.rule, t.c.resource_id, t.c.status, t.c.resolution).where(
                        t.c.tenant == tenant
                    )
                )
            }
            key = (t.c.tenant == tenant) & (t.c.fingerprint == sa.bindparam("k_fp"))
            pending = (
                (sa.insert(t), inserts),
                (
                    sa.update(t)
                    .where(key)
                    .values(
                        status=FindingStatus.regressed.value,
                        campaign=None,
                        resolution=None,
                        last_seen=sa.bindparam("v_last"),
                        opened_at=sa.bindparam("v_last"),
                        body=sa.bindparam("v_body"),
                    ),
                    reopen,
                ),
                (sa.update(t).where(key).values(last_seen=sa.bindparam("v_last"), body=sa.bindparam("v_body")), touch),
                (
                    sa.update(t)
                    .where(key)
                    .values(status=FindingStatus.resolved.value, resolution=sa.bindparam("v_resolution")),
                    resolve,
                ),
                (sa.insert(finding_events), events),
            )

            def flush() -> None:
                """Write the pending rows, one statement per kind, and drop them: a scan's bodies are written a
                chunk at a time, never all held at once (10,000 findings: ~19 MB of rows and bodies)."""
                for statement, rows in pending:
                    if rows:
                        conn.execute(statement, rows)
                        rows.clear()

            for fp, finding in current.items():
                if len(inserts) + len(reopen) + len(touch) >= SETTLE_CHUNK:
                    flush()
                body = finding.model_dump_json()
                if fp not in known:
                    new.append(fp)
                    inserts.append(
                        {
                            "tenant": tenant,
                            "fingerprint": fp,
                            "rule": finding.rule,
                            "resource_id": finding.resource.id,
                            "severity": finding.severity.value,
                            "status": FindingStatus.open.value,
                            "campaign": None,
                            "first_seen": now,
                            "last_seen": now,
                            "opened_at": now,
                            "resolution": None,
                            "body": body,
                        }
                    )
                    events.append(_event(tenant, fp, now, FindingStatus.open, "first seen"))
                elif known[fp][2] == FindingStatus.resolved:
                    new.append(fp)
                    regressed.append(fp)
                    reopen.append({"k_fp": fp, "v_last": now, "v_body": body})
                    events.append(_event(tenant, fp, now, FindingStatus.regressed, "seen again after it resolved"))
                else:
                    still_open.append(fp)
                    touch.append({"k_fp": fp, "v_last": now, "v_body": body})
            for fp, (rule, resource_id, status, marked) in known.items():
                if fp in current or rule not in evaluated or status not in ACTIVE:
                    continue
                if read is not None and resource_id in read:
                    verified = status is FindingStatus.remediating and marked == Resolution.fixed_by_mendflow.value
                    reason = Resolution.fixed_by_mendflow if verified else Resolution.fixed_elsewhere
                elif any(resource_id == scope or resource_id.startswith(scope + "/") for scope in covered):
                    reason = Resolution.resource_deleted
                elif complete:
                    reason = Resolution.resource_deleted if read is not None else Resolution.gone
                else:
                    unverified.append(fp)
                    continue
                gone.append(fp)
                resolve.append({"k_fp": fp, "v_resolution": reason.value})
                events.append(_event(tenant, fp, now, FindingStatus.resolved, reason.value))
            flush()
            # only this scan's unowned findings are read back (not every row of the tenant: a rescan of one
            # resource in a ledger of thousands parses one body, not thousands)
            free = (t.c.tenant == tenant) & t.c.campaign.is_(None) & t.c.status.in_([s.value for s in CLAIMABLE])
            seen = list(current)
            unclaimed = sorted(
                (
                    row
                    for start in range(0, len(seen), SETTLE_CHUNK)
                    for row in _rows_of(conn, free & t.c.fingerprint.in_(seen[start : start + SETTLE_CHUNK]), current)
                ),
                key=lambda row: (row.finding.rule, row.finding.resource.id),
            )
        return Reconciliation(
            new=sorted(new),
            still_open=sorted(still_open),
            gone=sorted(gone),
            unclaimed=unclaimed,
            regressed=sorted(regressed),
            unverified=sorted(unverified),
        )

    def claim(self, fingerprints: Iterable[str], campaign: str, *, tenant: str | None = None) -> list[str]:
        """Hand open, unowned findings (of `tenant`, when given) to a campaign; returns those actually claimed
        (idempotent per campaign)."""
        t = findings
        wanted = list(dict.fromkeys(fingerprints))
        claimable = (t.c.status.in_([s.value for s in CLAIMABLE]) & t.c.campaign.is_(None)) | (t.c.campaign == campaign)
        claimed: set[str] = set()
        with self.db.write() as conn:
            # one statement per chunk, not per finding: a 1,000-finding rescan's claim is two round trips
            for start in range(0, len(wanted), SETTLE_CHUNK):
                chunk = t.c.fingerprint.in_(wanted[start : start + SETTLE_CHUNK])
                mine = chunk if tenant is None else chunk & (t.c.tenant == tenant)
                claimed.update(
                    conn.execute(
                        sa.update(t)
                        .where(mine, claimable)
                        .values(status=FindingStatus.remediating.value, campaign=campaign)
                        .returning(t.c.fingerprint)
                    ).scalars()
                )
        return [fp for fp in wanted if fp in claimed]

    def mark_verified(self, fingerprint: str, *, campaign: str, tenant: str) -> bool:
        """The campaign owning this finding wrote a change and verified it: whenever the finding resolves (when
        the campaign settles, or a scan reads the fix first) it was fixed by mendflow. The status stays
        `remediating`; a rollback or failure clears the mark when the campaign settles."""
        return self.mark_verified_many([fingerprint], campaign=campaign, tenant=tenant) == 1

    def mark_verified_many(self, fingerprints: list[str], *, campaign: str, tenant: str) -> int:
        """`mark_verified` for a chunk of findings, one statement per 500; how many were marked."""
        t = findings
        marked = 0
        with self.db.write() as conn:
            for start in range(0, len(fingerprints), 500):
                cur = conn.execute(
                    sa.update(t)
                    .where(
                        t.c.tenant == tenant,
                        t.c.fingerprint.in_(fingerprints[start : start + 500]),
                        t.c.campaign == campaign,
                        t.c.status == FindingStatus.remediating.value,
                    )
                    .values(resolution=Resolution.fixed_by_mendflow.value)
                )
                marked += cur.rowcount
        return marked

    def settle(self, outcomes: dict[str, FindingStatus], campaign: str) -> None:
        """Record how a campaign ended for each of its findings.

        A resolved one keeps the reason already recorded (`fixed by mendflow` when the campaign verified its
        change, or what a scan saw first); without one it was found already fixed and skipped: `fixed elsewhere`.
        """
        t = findings
        by_status: dict[FindingStatus, list[str]] = {}
        for fp, status in outcomes.items():
            by_status.setdefault(status, []).append(fp)
        settled: dict[str, list[dict[str, Any]]] = {}
        with self.db.write() as conn:
            # One statement per status and chunk, not per finding: a 100-target page is a few round trips.
            for status, fps in by_status.items():
                # An open finding is released (no campaign), so the next scan can start a new one for it.
                resolution = (
                    sa.func.coalesce(t.c.resolution, Resolution.fixed_elsewhere.value)
                    if status is FindingStatus.resolved
                    else None
                )
                for start in range(0, len(fps), SETTLE_CHUNK):
                    cur = conn.execute(
                        sa.update(t)
                        .where(t.c.fingerprint.in_(fps[start : start + SETTLE_CHUNK]), t.c.campaign == campaign)
                        .values(
                            status=status.value,
                            campaign=None if status is FindingStatus.open else t.c.campaign,
                            resolution=resolution,
                        )
                        .returning(t.c.fingerprint, t.c.tenant, t.c.last_seen)
                    )
                    for fp, tenant, last_seen in cur.all():
                        event = _event(tenant, fp, last_seen, status, f"campaign {campaign} settled it")
                        settled.setdefault(fp, []).append(event)
            events = [event for fp in outcomes for event in settled.get(fp, [])]  # in the caller's order
            if events:
                conn.execute(sa.insert(finding_events), events)

    def find(self, fingerprint: str, *, tenant: str | None = None) -> LedgerRow | None:
        """The finding with this fingerprint (in `tenant`, when given)."""
        with self.db.read() as conn:
            rows = _select_rows(conn, _key(fingerprint, tenant))
        return rows[0] if rows else None

    def suppress(self, fingerprint: str, *, reference: str, tenant: str | None = None) -> bool:
        """Park a finding as accepted risk (no campaign is started for it); False if it is not open."""
        t = findings
        parkable = [s.value for s in (*CLAIMABLE, FindingStatus.failed, FindingStatus.rolled_back)]
        with self.db.write() as conn:
            cur = conn.execute(
                sa.update(t)
                .where(_key(fingerprint, tenant), t.c.status.in_(parkable))
                .values(status=FindingStatus.suppressed.value, campaign=reference)
            )
            return cur.rowcount == 1

    def reopen(self, fingerprint: str, *, reference: str, tenant: str | None = None) -> bool:
        """End a suppression: the finding is open again (unless it was resolved meanwhile)."""
        t = findings
        with self.db.write() as conn:
            cur = conn.execute(
                sa.update(t)
                .where(
                    _key(fingerprint, tenant),
                    t.c.status == FindingStatus.suppressed.value,
                    t.c.campaign == reference,
                )
                .values(status=FindingStatus.open.value, campaign=None)
            )
            return cur.rowcount == 1

    def rows(self, tenant: str) -> list[LedgerRow]:
        with self.db.read() as conn:
            return _select_rows(conn, findings.c.tenant == tenant)

    def search(
        self,
        *,
        tenant: str | None = None,
        severity: str | None = None,
        status: FindingStatus | None = None,
        rule: str | None = None,
        limit: int | None = None,
        false_positive: bool | None = None,
    ) -> list[LedgerRow]:
        """Findings of every tenant matching all the filters given, by tenant, rule and resource."""
        t = findings
        where: sa.ColumnElement[bool] = sa.true()
        for column, value in ((t.c.tenant, tenant), (t.c.severity, severity), (t.c.rule, rule)):
            if value is not None:
                where = where & (column == value)
        if status is not None:
            where = where & (t.c.status == status.value)
        if false_positive is not None:
            where = where & (t.c.false_positive == false_positive)
        query = sa.select(*_COLUMNS).where(where).order_by(t.c.tenant, t.c.rule, t.c.resource_id, t.c.fingerprint)
        with self.db.read() as conn:
            return [_row(*row) for row in conn.execute(query.limit(limit) if limit is not None else query)]

    def history(self, tenant: str, fingerprint: str) -> list[tuple[datetime, FindingStatus, str]]:
        """The finding's status history, oldest first: (when, status, why)."""
        e = finding_events
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(e.c.at, e.c.status, e.c.reason)
                .where(e.c.tenant == tenant, e.c.fingerprint == fingerprint)
                .order_by(e.c.seq)
            ).all()
        return [(datetime.fromisoformat(at), FindingStatus(status), reason) for at, status, reason in rows]


def _key(fingerprint: str, tenant: str | None) -> sa.ColumnElement[bool]:
    where = findings.c.fingerprint == fingerprint
    return where if tenant is None else where & (findings.c.tenant == tenant)


def _event(tenant: str, fp: str, at: str, status: FindingStatus, reason: str) -> dict[str, Any]:
    return {"tenant": tenant, "fingerprint": fp, "at": at, "status": status.value, "reason": reason}


def _select_rows(conn: Connection, where: sa.ColumnElement[bool]) -> list[LedgerRow]:
    query = sa.select(*_COLUMNS).where(where).order_by(findings.c.rule, findings.c.resource_id)
    return [_row(*row) for row in conn.execute(query)]


def _rows_of(conn: Connection, where: sa.ColumnElement[bool], written: Mapping[str, Finding]) -> list[LedgerRow]:
    """Rows whose bodies were just written from `written` (fingerprint → finding): their findings are taken from
    there, not read back and parsed again (a 10,000-finding scan held a second 38 MB copy of them)."""
    t = findings
    columns = [c for c in _COLUMNS if c is not t.c.body]
    query = sa.select(t.c.fingerprint, *columns).where(where).order_by(t.c.rule, t.c.resource_id)
    return [_row_of(written[fp], *rest) for fp, *rest in conn.execute(query)]


def _row(
    tenant: str,
    body: str,
    status: str,
    campaign: str | None,
    first: str,
    last: str,
    opened: str | None,
    resolution: str | None,
    false_positive: bool = False,
) -> LedgerRow:
    finding = Finding.model_validate_json(body)
    return _row_of(finding, tenant, status, campaign, first, last, opened, resolution, false_positive)


def _row_of(
    finding: Finding,
    tenant: str,
    status: str,
    campaign: str | None,
    first: str,
    last: str,
    opened: str | None,
    resolution: str | None,
    false_positive: bool = False,
) -> LedgerRow:
    return LedgerRow(
        finding=finding,
        status=FindingStatus(status),
        campaign=campaign,
        first_seen=datetime.fromisoformat(first),
        last_seen=datetime.fromisoformat(last),
        opened_at=datetime.fromisoformat(opened) if opened else None,
        resolution=Resolution(resolution) if resolution else None,
        tenant=tenant,
        false_positive=bool(false_positive),
    )
