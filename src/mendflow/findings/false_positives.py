"""Findings people marked as false positives (M7): a label on the ledger row, with who and why in its history.

A false positive stays in the ledger (its rule still fires; a later scan must not reopen it as new) but no longer
counts as open in the SSPM gauges; the false-positive rate is marked findings / all findings. Unmarking is the
same call with `value=False`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from mendflow.store import Database
from mendflow.store.schema import finding_events, findings


def mark_false_positive(
    db: Database, fingerprint: str, *, by: str, reason: str, value: bool = True, tenant: str | None = None
) -> list[str]:
    """Set the label on the finding(s) with `fingerprint` (in `tenant`, when given); returns the tenants changed
    (empty: no such finding). The finding's history records who and why."""
    t = findings
    where = (
        t.c.fingerprint == fingerprint
        if tenant is None
        else sa.and_(t.c.fingerprint == fingerprint, t.c.tenant == tenant)
    )
    at = datetime.now(UTC).isoformat()
    verb = "marked a false positive" if value else "unmarked as a false positive"
    with db.write() as conn:
        rows = conn.execute(
            sa.update(t).where(where).values(false_positive=value).returning(t.c.tenant, t.c.status)
        ).all()
        if rows:
            conn.execute(
                sa.insert(finding_events),
                [
                    {
                        "tenant": row_tenant,
                        "fingerprint": fingerprint,
                        "at": at,
                        "status": status,
                        "reason": f"{verb} by {by}: {reason}"[:200],
                    }
                    for row_tenant, status in rows
                ],
            )
    return sorted(str(row_tenant) for row_tenant, _ in rows)
