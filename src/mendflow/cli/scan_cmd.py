"""`mendflow scan --tenant-file F`: evaluate a tenant file offline and print findings."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mendflow.cli.options import PlaybookPaths, load_or_fail
from mendflow.offline import scan_tenant_file
from mendflow.render import compact, table


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def scan(
    tenant_file: Annotated[Path, typer.Option("--tenant-file", "-f", help="A mendflow.tenant/v1 file (JSON or YAML).")],
    output: Annotated[OutputFormat, typer.Option("--format", help="table for people, json for JSON lines.")] = (
        OutputFormat.table
    ),
    playbooks: PlaybookPaths = None,
) -> None:
    """Evaluate a tenant file offline, through the real connector against an in-process simulator."""
    loaded = load_or_fail(playbooks)
    result = scan_tenant_file(tenant_file, loaded)
    if output == OutputFormat.json:
        for finding in result.findings:
            typer.echo(json.dumps(finding.model_dump(mode="json"), sort_keys=True))
        return
    rows = [
        [f.severity.value, f.rule, f.resource.id, compact(f.evidence)]
        for f in result.findings
    ]
    typer.echo(table(["severity", "rule", "resource", "evidence"], rows, max_width=[8, 48, 48, 60]))
    typer.echo(
        f"\n{len(result.findings)} findings in {len(result.resources)} resources of {result.tenant.tenant} "
        f"({len(loaded)} playbooks, as of {result.as_of.isoformat()})"
    )
    for gap in result.gaps:
        typer.echo(f"coverage gap: {gap}", err=True)
    for error in result.errors:
        typer.echo(f"rule error: {error.rule} on {error.resource_id}: {error.message}", err=True)
