"""`mendflow playbooks validate [PATH…]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mendflow.errors import InputError
from mendflow.playbook_loader import bundled_playbook_dir, load_playbooks

app = typer.Typer(help="Author and check playbooks.", no_args_is_help=True)


@app.command("validate")
def validate(paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders.")] = None) -> None:
    """Load playbooks and report every error with file:line:column; exit 2 if any."""
    result = load_playbooks(paths or [bundled_playbook_dir()])
    for error in result.errors:
        typer.echo(str(error), err=True)
    typer.echo(f"{len(result.playbooks)} playbook(s) valid, {len(result.errors)} with errors")
    if result.errors:
        raise InputError(f"{len(result.errors)} playbook file(s) have errors")
