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
from mendflow.models import Change, Finding
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
from mendflow.workflow_types import ScanResult

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
    changes: dict[str, Change]
    """fingerprint → change, for findings an auto campaign handled."""
    modes: dict[str, str]
    """rule → respond mode."""
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
    changes: dict[str, Change] = {}
    for campaign in campaigns:
        by_resource = {c.resource.id: c for c in campaign.changes}
        for finding in findings:
            if finding.rule == campaign.playbook_id and finding.resource.id in by_resource:
                changes[finding.fingerprint] = by_resource[finding.resource.id]
    modes = {p.id: (p.respond.mode if p.respond else "notify") for p in playbooks}
    return DemoReport(scan, findings, changes, modes, server.ui_url, time.monotonic() - started)


def render_report(report: DemoReport) -> str:
    rows = []
    for finding in report.findings:
        change = report.changes.get(finding.fingerprint)
        if change is not None:
            action = change.action
            change_text = diff(change.before, change.after)
            outcome = change.outcome.value + (f" ({change.detail})" if change.detail else "")
        else:
            mode = str(report.modes.get(finding.rule, "notify"))
            action = {"approval": "awaits approval", "ticket": "awaits ticket"}.get(mode, "report only")
            change_text, outcome = "-", "open"
        rows.append([finding.rule, finding.resource.id, finding.severity.value, action, change_text, outcome])
    scan = report.scan
    lines = [
        table(
            ["finding", "resource", "severity", "action", "before → after", "outcome"],
            rows,
            max_width=[60, 70, 8, 40, 60, 60],
        ),
        "",
        render_scan_summary(scan),
        f"verified fixes: {sum(1 for c in report.changes.values() if c.outcome.value == 'verified')}; "
        f"restored: {sum(1 for c in report.changes.values() if c.outcome.value == 'restored')}",
        f"Temporal UI (while the stack runs; `mendflow up` keeps it running): {report.ui_url}",
        f"demo took {report.seconds:.1f}s",
    ]
    return "\n".join(lines)
