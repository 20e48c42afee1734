"""Human-readable reports of scans and campaigns."""

from __future__ import annotations

from mendflow.render import diff, table
from mendflow.workflow_types import CampaignStatus, ScanResult


def render_scan_summary(scan: ScanResult) -> str:
    return (
        f"scanned {scan.resources} resources of {scan.tenant_key}: {scan.findings} findings "
        f"({scan.new} new, {scan.still_open} still open, {scan.gone} gone); "
        f"{len(scan.campaigns_started)} campaign(s) started"
    )


def render_campaigns(campaigns: list[CampaignStatus]) -> str:
    rows = []
    for campaign in campaigns:
        for change in campaign.changes:
            rows.append(
                [
                    campaign.playbook_id,
                    change.resource.id,
                    change.action,
                    diff(change.before, change.after),
                    change.outcome.value,
                ]
            )
        if not campaign.changes and campaign.plan is not None:
            for target in campaign.plan.targets:
                rows.append(
                    [
                        campaign.playbook_id,
                        target.resource.id,
                        campaign.plan.action,
                        diff(target.current, target.intended),
                        campaign.state,
                    ]
                )
    return table(
        ["campaign playbook", "resource", "action", "before → after", "outcome"], rows, max_width=[60, 70, 40, 60, 20]
    )
