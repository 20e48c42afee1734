"""`mendflow doctor`: each tenant's reachability, authentication, permissions (needed vs granted) and credential age.

Exit 0 when every checked tenant is reachable, authenticated and holds every permission the loaded playbooks need
(excess grants and due rotations are reported, not failed); 1 otherwise; 2 for a bad tenants file or tenant key.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from mendflow.cli.options import OutputFormat, PlaybookPaths, load_or_fail
from mendflow.config import TenantRegistry
from mendflow.doctor import doctor as run_doctor
from mendflow.doctor import render


def doctor(
    tenants: Annotated[
        Path, typer.Option("--tenants", envvar="MENDFLOW_TENANTS", help="Tenants config (YAML) with secret references.")
    ],
    tenant: Annotated[str | None, typer.Option("--tenant", help="Check only this tenant key (default: all).")] = None,
    playbooks: PlaybookPaths = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table for people, json for tools.")] = (
        OutputFormat.table
    ),
) -> None:
    """Check that every tenant is reachable and its credential holds what the playbooks need, and no more."""
    registry = TenantRegistry.from_file(tenants)
    connections = [registry.get(tenant)] if tenant else list(registry.tenants.values())
    report = asyncio.run(run_doctor(connections, load_or_fail(playbooks)))
    if output is OutputFormat.json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        typer.echo(render(report))
    if not report.ok:
        raise typer.Exit(1)
