"""Human-readable reports of scans and campaigns."""

from __future__ import annotations

from mendflow.render import diff, table
from mendflow.workflow_types import RemediationResult, ScanResult


def render_scan_summary(scan: ScanResult) -> str:
    return (
        f"scanned {scan.resources} resources of {scan.tenant_key}: {scan.findings} findings "
        f"({scan.new} new, {scan.still_open} still open, {scan.gone} gone); "
        f"{len(scan.campaigns_started)} auto-remediation campaign(s) run"
    )


def render_campaigns(campaigns: list[RemediationResult]) -> str:
    rows = [
        [c.playbook_id, ch.resource.id, ch.action, diff(ch.before, ch.after), ch.outcome.value]
        for c in campaigns
        for ch in c.changes
    ]
    return table(
        ["campaign playbook", "resource", "action", "before → after", "outcome"], rows, max_width=[60, 70, 40, 60, 20]
    )
