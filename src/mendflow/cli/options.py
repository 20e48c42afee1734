"""Options shared by several commands."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mendflow.errors import InputError
from mendflow.playbooks.loader import LoadResult, bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.responses.triggers import dead_triggers


class OutputFormat(StrEnum):
    """`--format` of the commands that print results: table for people, json for tools."""

    table = "table"
    json = "json"


PlaybookPaths = Annotated[
    list[Path] | None,
    typer.Option(
        "--playbooks", "-p", help="Playbook files or folders (default: the shipped rule packs).", metavar="PATH"
    ),
]
DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Where Temporal's SQLite file, snapshots and the ledger live.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="MENDFLOW_DATABASE_URL",
        help="Shared state (ledger, snapshots, audit, idempotency keys): postgresql://user@host/db, or "
        "sqlite:///path. Default: SQLite in the data directory.",
        show_default=False,
    ),
]


def load_or_fail(paths: list[Path] | None, *, strict: bool = False) -> list[Playbook]:
    """Load playbooks; report each broken file on stderr and carry on with the good ones."""
    return load_all_or_fail(paths, strict=strict).playbooks


def load_all_or_fail(paths: list[Path] | None, *, strict: bool = False) -> LoadResult:
    """`load_or_fail`, keeping the workflow playbooks too (a worker runs their finding triggers; one naming a
    detection playbook that is not loaded is reported, since it can never fire)."""
    result = load_playbooks(paths or [bundled_playbook_dir()])
    for error in result.errors:
        typer.echo(f"mendflow: {error}", err=True)
    for warning in dead_triggers(result.workflows, (p.id for p in result.playbooks)):
        typer.echo(f"mendflow: {warning}", err=True)
    if result.errors and (strict or not result.playbooks):
        raise InputError(f"{len(result.errors)} playbook file(s) could not be loaded")
    return result
