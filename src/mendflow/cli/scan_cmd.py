"""`mendflow scan`: a tenant file offline (read incrementally, evaluated chunk by chunk), or a tenant through
Temporal (`--tenant KEY`: the campaign ids it started are printed; failures are one line with an exit code)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError

from mendflow.cli.failures import explain
from mendflow.cli.options import OutputFormat, PlaybookPaths, load_or_fail, temporal_options
from mendflow.cli.progress import terminal_progress
from mendflow.errors import InputError
from mendflow.offline import scan_chunks
from mendflow.playbooks.model import Playbook
from mendflow.render import compact, fit, table, timestamp
from mendflow.report import render_campaigns, render_scan_summary
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.scans import run_scan_and_wait
from mendflow.tenant_stream import check

WIDTHS = [8, 48, 64, 60]
"""Columns of the findings table; resource ids are never cut (see `render.fit`)."""


@temporal_options(before="output")
def scan(
    tenant_file: Annotated[
        Path | None, typer.Option("--tenant-file", "-f", help="Evaluate a mendflow.tenant/v1 file (JSON/YAML) offline.")
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant", help="Scan (and auto-fix) a tenant a running worker knows, e.g. github:acme.", metavar="KEY"
        ),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table for people, json for JSON lines.")] = (
        OutputFormat.table
    ),
    playbooks: PlaybookPaths = None,
    *,
    temporal: TemporalSettings,
) -> None:
    """Scan a tenant: offline from a tenant file, or through Temporal with --tenant."""
    if (tenant_file is None) == (tenant is None):
        raise InputError("give exactly one of --tenant-file F (offline) or --tenant KEY (through Temporal)")
    if tenant is not None:
        asyncio.run(_scan_through_temporal(tenant, temporal, output))
        return
    assert tenant_file is not None
    _scan_offline(tenant_file, load_or_fail(playbooks), output)


def _scan_offline(path: Path, playbooks: list[Playbook], output: OutputFormat) -> None:
    """Print findings chunk by chunk: JSON lines at once, table rows as short strings (memory stays bounded)."""
    checked = check(path)
    as_of = checked.head.taken_at or datetime.now(UTC)
    rows: list[list[str]] = []
    resources = found = 0
    gaps: dict[str, None] = {}
    for part in scan_chunks(checked, playbooks, as_of=as_of):
        resources += len(part.resources)
        found += len(part.findings)
        gaps.update(dict.fromkeys(part.gaps))
        for finding in part.findings:
            if output == OutputFormat.json:
                typer.echo(json.dumps(finding.model_dump(mode="json"), sort_keys=True))
            else:
                cells = [finding.severity.value, finding.rule, finding.resource.id, compact(finding.evidence)]
                rows.append([fit(cell, width) for cell, width in zip(cells, WIDTHS, strict=True)])
        for error in part.errors:
            typer.echo(f"rule error: {error.rule} on {error.resource_id}: {error.message}", err=True)
    if output == OutputFormat.table:
        typer.echo(table(["severity", "rule", "resource", "evidence"], rows, max_width=WIDTHS))
        typer.echo(
            f"\n{found} findings in {resources} resources of {checked.head.tenant} "
            f"({len(playbooks)} playbooks, as of {timestamp(as_of)})"
        )
    for gap in gaps:
        typer.echo(f"coverage gap: {gap}", err=True)


async def _scan_through_temporal(tenant: str, settings: TemporalSettings, output: OutputFormat) -> None:
    client = await connect(settings)
    progress = terminal_progress(sys.stderr, table=output == OutputFormat.table)  # None: not a terminal, or json
    try:
        scan_result, campaigns = await run_scan_and_wait(
            client, tenant, on_progress=progress.show if progress is not None else None
        )
    except (TemporalError, RPCError) as err:
        raise explain(err, what=f"scan of {tenant}") from None
    finally:
        if progress is not None:
            progress.close()
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
