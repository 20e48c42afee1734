"""Facts the SSPM metrics need, recorded after the activities that produce them.

- after `collect_inventory`: the tenant's latest inventory size and coverage (`tenant_scans`, M1 and M10);
- after `reconcile_findings`: M2 time to detect for the findings this scan opened (from the tenant's previous
  complete scan: the last time they were known absent) and M3 time to remediate for the ones it resolved;
- after `settle_findings`: M3 for the findings a campaign resolved that no scan had resolved first.

A repeated activity attempt records its histograms again; the gauges, read from the table, are not affected.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from mendflow.store import Database
from mendflow.store.schema import finding_events, findings, tenant_scans
from mendflow.telemetry.metrics import record_time_to_detect, record_time_to_remediate

NEVER = ""
"""`tenant_scans.scanned_at` before the tenant's first reconciled scan (its findings have no time to detect)."""


def record_inventory(db: Database, tenant: str, *, resources: int, expected: int, read: int) -> None:
    """The tenant's latest inventory: its size and how many of the expected collections were read."""
    values = {"resources": resources, "collections_expected": expected, "collections_read": read}
    with db.write() as conn:
        updated = conn.execute(sa.update(tenant_scans).where(tenant_scans.c.tenant == tenant).values(**values))
        if not updated.rowcount:
            conn.execute(sa.insert(tenant_scans).values(tenant=tenant, scanned_at=NEVER, **values))


def _parse(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def record_reconciled(db: Database, tenant: str, *, seen_at: datetime, complete: bool = True) -> None:
    """M2 for findings opened at `seen_at`, M3 for those resolved at `seen_at`; then, if the scan read everything
    (`complete`), it becomes the tenant's last known state: a targeted rescan or a scan with coverage gaps did not
    see the whole tenant, so time to detect keeps counting from the last complete scan (an upper bound)."""
    seen = seen_at.isoformat()
    t, e, s = findings, finding_events, tenant_scans
    with db.read() as conn:
        previous = conn.execute(sa.select(s.c.scanned_at).where(s.c.tenant == tenant)).scalar_one_or_none()
        opened = conn.execute(sa.select(t.c.severity).where(t.c.tenant == tenant, t.c.opened_at == seen)).all()
        resolved = conn.execute(
            sa.select(t.c.severity, t.c.opened_at, t.c.resolution)
            .join(e, sa.and_(e.c.tenant == t.c.tenant, e.c.fingerprint == t.c.fingerprint))
            .where(t.c.tenant == tenant, e.c.at == seen, e.c.status == "resolved", t.c.opened_at.is_not(None))
        ).all()
    if previous and _parse(previous) < seen_at:
        waited = (seen_at - _parse(previous)).total_seconds()
        for (severity,) in opened:
            record_time_to_detect(waited, severity=severity, tenant=tenant)
    for severity, opened_at, resolution in resolved:
        took = (seen_at - _parse(opened_at)).total_seconds()
        record_time_to_remediate(took, severity=severity, tenant=tenant, resolution=resolution or "unknown")
    if not complete:
        return
    with db.write() as conn:
        updated = conn.execute(sa.update(s).where(s.c.tenant == tenant).values(scanned_at=seen))
        if not updated.rowcount:
            conn.execute(
                sa.insert(s).values(
                    tenant=tenant, scanned_at=seen, resources=0, collections_expected=0, collections_read=0
                )
            )


def record_settled(db: Database, tenant: str, statuses: dict[str, str], *, now: datetime) -> None:
    """M3 for the findings a campaign settled as resolved, unless a scan had already resolved them (counted)."""
    fixed = [fp for fp, status in statuses.items() if status == "resolved"]
    if not fixed:
        return
    t, e = findings, finding_events
    by_scan = sa.exists().where(
        e.c.tenant == t.c.tenant,
        e.c.fingerprint == t.c.fingerprint,
        e.c.status == "resolved",
        e.c.at >= t.c.opened_at,
        sa.not_(e.c.reason.like("campaign %")),
    )
    with db.read() as conn:
        rows = conn.execute(
            sa.select(t.c.severity, t.c.opened_at, t.c.resolution).where(
                t.c.tenant == tenant, t.c.fingerprint.in_(fixed), t.c.opened_at.is_not(None), sa.not_(by_scan)
            )
        ).all()
    for severity, opened_at, resolution in rows:
        took = (now - _parse(opened_at)).total_seconds()
        record_time_to_remediate(took, severity=severity, tenant=tenant, resolution=resolution or "unknown")
