"""`mendflow demo`: the whole loop on the embedded stack against a simulated GitHub organization.

Starts the Temporal dev server, a worker and the GitHub simulator (seeded with misconfigurations), runs a scan,
lets the auto playbooks fix their findings, and prints what happened to every finding.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.models import Finding
from mendflow.playbook import Playbook
from mendflow.redaction import register_secret
from mendflow.render import diff, table
from mendflow.report import render_scan_summary
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.ports import free_port
from mendflow.runtime.scans import run_scan_and_wait
from mendflow.runtime.stack import embedded_stack
from mendflow.secrets import SecretRef
from mendflow.sim.github import create_github_app
from mendflow.sim.server import LoopbackServer, serve_in_thread
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, ScanResult

DEMO_TOKEN_ENV = "MENDFLOW_DEMO_GITHUB_TOKEN"  # noqa: S105 - a variable name, not a secret


@contextmanager
def simulated_github(tenant_file: Path) -> Iterator[tuple[LoopbackServer, TenantConnection]]:
    """Serve a tenant file on loopback; the token is handed over by reference (an environment variable)."""
    tenant = load_tenant_file(tenant_file)
    token = secrets.token_urlsafe(24)
    register_secret(token)
    os.environ[DEMO_TOKEN_ENV] = token
    with serve_in_thread(create_github_app(tenant, token=token)) as server:
        yield (
            server,
            TenantConnection(
                key=f"github:{tenant.tenant}",
                provider="github",
                tenant=tenant.tenant,
                base_url=server.base_url,
                token=SecretRef(ref=f"env:{DEMO_TOKEN_ENV}"),
            ),
        )


@dataclass(frozen=True)
class DemoReport:
    scan: ScanResult
    findings: list[Finding]
    campaign_of: dict[str, CampaignStatus]
    """fingerprint → the campaign that owns the finding (findings of notify-only playbooks have none)."""
    ui_url: str
    seconds: float


async def run_demo(data_dir: Path, playbooks: list[Playbook]) -> DemoReport:
    started = time.monotonic()
    server = DevServer(data_dir=data_dir / "temporal", port=free_port(), ui_port=free_port())
    with simulated_github(demo_tenant_path()) as (_, connection):
        registry = TenantRegistry()
        registry.add(connection)
        context = WorkerContext(registry=registry, data_dir=data_dir, playbooks={p.id: p for p in playbooks})
        async with embedded_stack(server, context) as stack:
            scan, campaigns = await run_scan_and_wait(stack.client, connection.key)
        findings = [Finding.model_validate(line) for line in context.snapshots.read_lines(scan.findings_digest)]
    campaign_of = {t.fingerprint: c for c in campaigns if c.plan for t in c.plan.targets}
    return DemoReport(scan, findings, campaign_of, server.ui_url, time.monotonic() - started)


def _row(finding: Finding, campaign: CampaignStatus | None) -> list[str]:
    if campaign is None or campaign.plan is None:
        return [finding.rule, finding.resource.id, finding.severity.value, "report only", "-", "open"]
    plan = campaign.plan
    change = next((c for c in campaign.changes if c.resource.id == finding.resource.id), None)
    if change is None:
        target = next(t for t in plan.targets if t.fingerprint == finding.fingerprint)
        who = f"{plan.required_approvals} of {', '.join(plan.approvers)}"
        return [
            finding.rule,
            finding.resource.id,
            finding.severity.value,
            plan.action,
            diff(target.current, target.intended),
            f"{campaign.state} ({who})",
        ]
    outcome = change.outcome.value + (f" ({change.detail})" if change.detail else "")
    return [
        finding.rule,
        finding.resource.id,
        finding.severity.value,
        change.action,
        diff(change.before, change.after),
        outcome,
    ]


def render_report(report: DemoReport) -> str:
    rows = [_row(f, report.campaign_of.get(f.fingerprint)) for f in report.findings]
    scan = report.scan
    lines = [
        table(
            ["finding", "resource", "severity", "action", "before → after", "outcome"],
            rows,
            max_width=[60, 70, 8, 40, 60, 60],
        ),
        "",
        render_scan_summary(scan),
        f"verified fixes: {_count(report, 'verified')}; restored: {_count(report, 'restored')}; "
        f"campaigns awaiting approval: {sum(1 for c in _campaigns(report) if c.state == 'awaiting_approval')}",
        f"Temporal UI (while the stack runs; `mendflow up` keeps it running): {report.ui_url}",
        f"demo took {report.seconds:.1f}s",
    ]
    return "\n".join(lines)


def _campaigns(report: DemoReport) -> list[CampaignStatus]:
    return list({c.campaign_id: c for c in report.campaign_of.values()}.values())


def _count(report: DemoReport, outcome: str) -> int:
    return sum(1 for c in _campaigns(report) for change in c.changes if change.outcome.value == outcome)
