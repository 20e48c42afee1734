"""`mendflow plan --tenant-file F`: the dry run a team reviews before enabling playbooks (nothing is written)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mendflow.cli.options import OutputFormat, PlaybookPaths, load_or_fail
from mendflow.findings.risk import load_criticality
from mendflow.playbooks.plan import TenantPlan, plan_tenant_file, render_plan
from mendflow.settings import Settings

CriticalityOption = Annotated[
    Path | None,
    typer.Option(
        "--criticality",
        help="Asset criticality (YAML: `default: medium`, `resources: {/repos/acme/pay*: critical}`) for risk scores.",
    ),
]


def print_plan(plan: TenantPlan, output: OutputFormat) -> None:
    if output == OutputFormat.json:
        typer.echo(plan.model_dump_json(indent=2))
    else:
        typer.echo(render_plan(plan))


def plan(
    tenant_file: Annotated[
        Path, typer.Option("--tenant-file", "-f", help="A mendflow.tenant/v1 file (JSON/YAML) to plan against.")
    ],
    playbooks: PlaybookPaths = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table for people, json for tools.")] = (
        OutputFormat.table
    ),
    config: Annotated[
        Path | None, typer.Option("--config", help="mendflow.yaml: its RBAC section resolves the approvers.")
    ] = None,
    criticality: CriticalityOption = None,
) -> None:
    """Show, per playbook, what it would change in the tenant: mode, approvers, rollout, before → after."""
    loaded = load_or_fail(playbooks)
    settings = Settings.load(config)
    levels = load_criticality(criticality) if criticality is not None else None
    print_plan(plan_tenant_file(tenant_file, loaded, rbac=settings.rbac, criticality=levels), output)
