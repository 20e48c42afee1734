"""`mendflow scan --tenant-file F`: evaluate a tenant file offline and print findings."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError

from mendflow.cli.failures import explain
from mendflow.cli.options import PlaybookPaths, load_or_fail
from mendflow.errors import InputError
from mendflow.offline import scan_tenant_file
from mendflow.render import compact, table
from mendflow.report import render_campaigns, render_scan_summary
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.scans import run_scan_and_wait


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def scan(
    tenant_file: Annotated[
        Path | None, typer.Option("--tenant-file", "-f", help="Evaluate a mendflow.tenant/v1 file (JSON/YAML) offline.")
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="Scan (and auto-fix) a tenant a running worker knows, e.g. github:acme."),
    ] = None,
    temporal_address: Annotated[str, typer.Option("--temporal-address", help="HOST:PORT of Temporal.")] = (
        "127.0.0.1:7233"
    ),
    namespace: Annotated[str, typer.Option("--namespace")] = "default",
    output: Annotated[OutputFormat, typer.Option("--format", help="table for people, json for JSON lines.")] = (
        OutputFormat.table
    ),
    playbooks: PlaybookPaths = None,
) -> None:
    """Scan a tenant: offline from a tenant file, or through Temporal with --tenant."""
    if (tenant_file is None) == (tenant is None):
        raise InputError("give exactly one of --tenant-file F (offline) or --tenant KEY (through Temporal)")
    if tenant is not None:
        asyncio.run(
            _scan_through_temporal(tenant, TemporalSettings(address=temporal_address, namespace=namespace), output)
        )
        return
    assert tenant_file is not None
    loaded = load_or_fail(playbooks)
    result = scan_tenant_file(tenant_file, loaded, keep_resources=False)
    if output == OutputFormat.json:
        for finding in result.findings:
            typer.echo(json.dumps(finding.model_dump(mode="json"), sort_keys=True))
        return
    rows = [[f.severity.value, f.rule, f.resource.id, compact(f.evidence)] for f in result.findings]
    typer.echo(table(["severity", "rule", "resource", "evidence"], rows, max_width=[8, 48, 48, 60]))
    typer.echo(
        f"\n{len(result.findings)} findings in {result.resource_count} resources of {result.tenant.tenant} "
        f"({len(loaded)} playbooks, as of {result.as_of.isoformat()})"
    )
    for gap in result.gaps:
        typer.echo(f"coverage gap: {gap}", err=True)
    for error in result.errors:
        typer.echo(f"rule error: {error.rule} on {error.resource_id}: {error.message}", err=True)


async def _scan_through_temporal(tenant: str, settings: TemporalSettings, output: OutputFormat) -> None:
    client = await connect(settings)
    try:
        scan_result, campaigns = await run_scan_and_wait(client, tenant)
    except (TemporalError, RPCError) as err:
        raise explain(err, what=f"scan of {tenant}") from None
    if output == OutputFormat.json:
        typer.echo(scan_result.model_dump_json())
        for campaign in campaigns:
            typer.echo(campaign.model_dump_json())
        return
    if campaigns:
        typer.echo(render_campaigns(campaigns))
    typer.echo(render_scan_summary(scan_result))
    for cid in scan_result.campaigns_started:
        typer.echo(f"started campaign {cid}")
    for cid in scan_result.campaigns_existing:
        typer.echo(f"already running: campaign {cid}")
