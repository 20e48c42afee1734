"""SSPM indicators read from the shared store at scrape time, so every API replica reports the same numbers.

    M1  mendflow.inventory.coverage.ratio  collections read / expected in each tenant's latest inventory
        mendflow.inventory.resources       resources in that inventory
    M4  mendflow.findings.open             open findings by tenant and severity (M4: severity="critical")
    M5  mendflow.accounts.over_permissioned  accounts with an open over-permission finding
    M7  mendflow.findings.false_positive.ratio  findings people marked false positive / all findings
    M8  mendflow.remediation.automated.ratio    resolved findings mendflow fixed / all resolved findings
    M10 mendflow.policy.compliance.ratio   resources with no open finding / resources in the latest inventory
        mendflow.campaigns.open            campaigns owning findings being remediated, by phase: `waiting`
                                           (approval, freeze, capture) or `changing` (canary, batches)

Counted here, not kept in process memory: a gauge kept by one worker would be wrong on every other replica.
"Open" means open, regressed, remediating, failed or rolled back; suppressed (accepted risk) and false positives
are not open. M2/M3 are histograms recorded when findings appear and resolve (`telemetry.scan_facts`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from mendflow.store import Database
from mendflow.store.schema import findings, tenant_scans

OPEN_STATUSES = ("open", "regressed", "remediating", "failed", "rolled_back")
OVER_PERMISSION_RULES = ("github.collaborator.outside_admin", "okta.user.super_admin_direct")
"""Rules whose finding means an account holds more permission than it should (M5)."""
FIXED_BY_MENDFLOW = "fixed by mendflow"


@dataclass
class _Source:
    database: Database | None = None


_source = _Source()
_registered: set[int] = set()


def _open(t: sa.Table = findings) -> sa.ColumnElement[bool]:
    return sa.and_(t.c.status.in_(OPEN_STATUSES), sa.not_(t.c.false_positive))


def _rows(query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    db = _source.database
    if db is None:
        return []
    with db.read() as conn:
        return [tuple(row) for row in conn.execute(query).all()]


def _coverage(options: CallbackOptions) -> Iterable[Observation]:
    t = tenant_scans
    for tenant, expected, read in _rows(sa.select(t.c.tenant, t.c.collections_expected, t.c.collections_read)):
        ratio = 1.0 if not expected else int(read) / int(expected)
        yield Observation(ratio, {"tenant": str(tenant)})


def _resources(options: CallbackOptions) -> Iterable[Observation]:
    t = tenant_scans
    for tenant, count in _rows(sa.select(t.c.tenant, t.c.resources)):
        yield Observation(int(count), {"tenant": str(tenant)})


def _open_findings(options: CallbackOptions) -> Iterable[Observation]:
    t = findings
    query = sa.select(t.c.tenant, t.c.severity, sa.func.count()).where(_open()).group_by(t.c.tenant, t.c.severity)
    seen: set[str] = set()
    for tenant, severity, count in _rows(query):
        seen.add(str(tenant))
        yield Observation(int(count), {"tenant": str(tenant), "severity": str(severity)})
    for tenant in _tenants() - seen:  # a tenant with nothing open reports 0, not silence
        yield Observation(0, {"tenant": tenant, "severity": "critical"})


def _tenants() -> set[str]:
    return {str(row[0]) for row in _rows(sa.select(tenant_scans.c.tenant))}


def _over_permissioned(options: CallbackOptions) -> Iterable[Observation]:
    t = findings
    query = (
        sa.select(t.c.tenant, sa.func.count(sa.distinct(t.c.resource_id)))
        .where(_open(), t.c.rule.in_(OVER_PERMISSION_RULES))
        .group_by(t.c.tenant)
    )
    counts = {str(tenant): int(n) for tenant, n in _rows(query)}
    for tenant in sorted(_tenants() | set(counts)):
        yield Observation(counts.get(tenant, 0), {"tenant": tenant})


def _ratio_by_tenant(part: sa.ColumnElement[bool], whole: sa.ColumnElement[bool] | None) -> Iterable[Observation]:
    t = findings
    hits = sa.func.sum(sa.case((part, 1), else_=0))
    query = sa.select(t.c.tenant, hits, sa.func.count()).group_by(t.c.tenant)
    if whole is not None:
        query = query.where(whole)
    for tenant, numerator, denominator in _rows(query):
        if int(denominator):
            yield Observation(int(numerator or 0) / int(denominator), {"tenant": str(tenant)})


def _false_positive_ratio(options: CallbackOptions) -> Iterable[Observation]:
    return _ratio_by_tenant(findings.c.false_positive, None)


def _automated_ratio(options: CallbackOptions) -> Iterable[Observation]:
    return _ratio_by_tenant(findings.c.resolution == FIXED_BY_MENDFLOW, findings.c.status == "resolved")


def _compliance(options: CallbackOptions) -> Iterable[Observation]:
    t, s = findings, tenant_scans
    query = sa.select(t.c.tenant, sa.func.count(sa.distinct(t.c.resource_id))).where(_open()).group_by(t.c.tenant)
    failing: dict[str, int] = {str(tenant): int(n) for tenant, n in _rows(query)}
    for tenant, resources in _rows(sa.select(s.c.tenant, s.c.resources)):
        total = int(resources)
        if total:
            bad = min(failing.get(str(tenant), 0), total)
            yield Observation((total - bad) / total, {"tenant": str(tenant)})


def _open_campaigns(options: CallbackOptions) -> Iterable[Observation]:
    """Campaigns owning findings still being remediated, by phase: `changing` once one of their changes was
    verified (canary or batches under way), `waiting` before (approval, freeze window, capture)."""
    t = findings
    changed = sa.func.max(sa.case((t.c.resolution == FIXED_BY_MENDFLOW, 1), else_=0))
    query = (
        sa.select(t.c.tenant, t.c.campaign, changed)
        .where(t.c.status == "remediating", t.c.campaign.is_not(None))
        .group_by(t.c.tenant, t.c.campaign)
    )
    counts: dict[tuple[str, str], int] = {}
    for tenant, _, verified in _rows(query):
        key = (str(tenant), "changing" if verified else "waiting")
        counts[key] = counts.get(key, 0) + 1
    for tenant in sorted(_tenants() | {tenant for tenant, _ in counts}):
        for phase in ("waiting", "changing"):
            yield Observation(counts.get((tenant, phase), 0), {"tenant": tenant, "phase": phase})


def register_sspm_gauges(meter: Meter, database: Database) -> None:
    """Observe the SSPM gauges from `database` (the newest registration's database is the one read)."""
    _source.database = database
    if id(meter) in _registered:
        return
    _registered.add(id(meter))
    gauges = (
        ("mendflow.inventory.coverage.ratio", "1", "M1: collections read / expected, latest inventory.", _coverage),
        ("mendflow.inventory.resources", "{resource}", "Resources in the latest inventory.", _resources),
        ("mendflow.findings.open", "{finding}", "M4: open findings by severity.", _open_findings),
        (
            "mendflow.accounts.over_permissioned",
            "{account}",
            "M5: accounts with an open over-permission finding.",
            _over_permissioned,
        ),
        (
            "mendflow.findings.false_positive.ratio",
            "1",
            "M7: findings marked false positive / all findings.",
            _false_positive_ratio,
        ),
        (
            "mendflow.remediation.automated.ratio",
            "1",
            "M8: resolved findings fixed by mendflow / resolved findings.",
            _automated_ratio,
        ),
        (
            "mendflow.policy.compliance.ratio",
            "1",
            "M10: resources with no open finding / resources in the latest inventory.",
            _compliance,
        ),
        (
            "mendflow.campaigns.open",
            "{campaign}",
            "Campaigns owning findings being remediated, by phase (waiting: no change verified yet; changing).",
            _open_campaigns,
        ),
    )
    for name, unit, description, callback in gauges:
        meter.create_observable_gauge(name, callbacks=[callback], unit=unit, description=description)
