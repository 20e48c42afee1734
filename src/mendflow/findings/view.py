"""What `mendflow findings` and `GET /v1/findings` show of the ledger, and the filters both accept.

The filters are parsed once here, so the CLI (before it sends anything) and the API (for any other client) refuse
the same bad values with the same words; each message names the flag or query parameter that was wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mendflow.errors import InputError
from mendflow.findings.store import FindingsLedger, FindingStatus, LedgerRow, Resolution
from mendflow.models import Severity
from mendflow.render import table, timestamp

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
"""Most rows one answer carries; narrow the filters to see the rest."""
FILTERS = ("tenant", "severity", "status", "rule", "false_positive", "limit")
YES, NO = ("yes", "true"), ("no", "false")


class FindingFilter(BaseModel):
    """Which findings to list (every filter given must match)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str | None = None
    """Tenant key, e.g. `github:acme`."""
    severity: Severity | None = None
    status: FindingStatus | None = None
    rule: str | None = None
    """Playbook id."""
    false_positive: bool | None = None
    """Only findings marked (True) or not marked (False) false positives."""
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class FindingView(BaseModel):
    """One finding as the ledger knows it."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    """sha256 of tenant, rule and resource: what `mendflow suppress` takes."""
    tenant: str
    rule: str
    resource: str
    resource_type: str
    severity: Severity
    risk: int | None
    """0–100 (severity × asset criticality × exposure); None for findings recorded before scans scored them."""
    risk_explanation: str
    compliance: list[str]
    status: FindingStatus
    first_seen: datetime
    last_seen: datetime
    campaign: str | None
    """The campaign that owns (or owned) it, or the suppression that parks it."""
    resolution: Resolution | None
    """Why it resolved: fixed by mendflow, fixed elsewhere, resource deleted (None while it is open)."""
    false_positive: bool = False
    """Marked a false positive by a person: not counted as open in the metrics."""

    @classmethod
    def of(cls, row: LedgerRow) -> FindingView:
        f = row.finding
        return cls(
            fingerprint=f.fingerprint,
            tenant=row.tenant,
            rule=f.rule,
            resource=f.resource.id,
            resource_type=f.resource.type,
            severity=f.severity,
            risk=f.risk.score if f.risk else None,
            risk_explanation=f.risk.explanation if f.risk else "",
            compliance=list(f.compliance),
            status=row.status,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            campaign=row.campaign,
            resolution=row.resolution,
            false_positive=row.false_positive,
        )


class FindingsPage(BaseModel):
    """The answer of `GET /v1/findings`."""

    findings: list[FindingView]
    more: bool
    """True when more findings match than `limit`: narrow the filters."""


def parse_filter(values: Mapping[str, str | None], *, name: Callable[[str], str]) -> FindingFilter:
    """The filter from raw strings; a bad value is an InputError naming it as `name(field)` (`--severity`)."""
    unknown = sorted(set(values) - set(FILTERS))
    if unknown:
        raise InputError(f"unknown filter {name(unknown[0])}; use {', '.join(name(f) for f in FILTERS)}")
    given = {k: v for k, v in values.items() if v is not None}
    for field, choices in (("severity", Severity), ("status", FindingStatus)):
        value = given.get(field)
        if value is not None and value not in {c.value for c in choices}:
            raise InputError(f"{name(field)} {value!r}: use one of {', '.join(c.value for c in choices)}")
    for field in ("tenant", "rule"):
        if field in given and not given[field].strip():
            raise InputError(f"{name(field)} is empty")
    marked = given.get("false_positive")
    if marked is not None:
        if marked.lower() not in YES + NO:
            raise InputError(f"{name('false_positive')} {marked!r}: use yes or no")
        given["false_positive"] = str(marked.lower() in YES).lower()
    limit = given.get("limit")
    if limit is not None and (not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT):
        raise InputError(f"{name('limit')} {limit!r}: use a whole number from 1 to {MAX_LIMIT}")
    return FindingFilter.model_validate(given)


def list_findings(ledger: FindingsLedger, wanted: FindingFilter) -> FindingsPage:
    rows = ledger.search(
        tenant=wanted.tenant,
        severity=wanted.severity.value if wanted.severity else None,
        status=wanted.status,
        rule=wanted.rule,
        limit=wanted.limit + 1,
        false_positive=wanted.false_positive,
    )
    return FindingsPage(findings=[FindingView.of(r) for r in rows[: wanted.limit]], more=len(rows) > wanted.limit)


HEADERS = ["fingerprint", "tenant", "rule", "resource", "severity", "risk", "status", "false positive",
           "first seen", "last seen", "campaign", "resolution"]  # fmt: skip
WIDTHS: list[int | None] = [None, None, None, None, 8, 4, 11, 14, 20, 20, None, 18]
"""Ids (fingerprint, tenant, rule, resource, campaign) are never cut: people copy them into the next command."""


def render_findings(views: Sequence[FindingView]) -> str:
    rows = [
        [
            v.fingerprint,
            v.tenant,
            v.rule,
            v.resource,
            v.severity.value,
            "-" if v.risk is None else str(v.risk),
            v.status.value,
            "yes" if v.false_positive else "-",
            timestamp(v.first_seen),
            timestamp(v.last_seen),
            v.campaign or "-",
            v.resolution.value if v.resolution else "-",
        ]
        for v in views
    ]
    return table(HEADERS, rows, max_width=WIDTHS)


__all__ = [
    "DEFAULT_LIMIT",
    "FILTERS",
    "MAX_LIMIT",
    "FindingFilter",
    "FindingView",
    "FindingsPage",
    "list_findings",
    "parse_filter",
    "render_findings",
]
