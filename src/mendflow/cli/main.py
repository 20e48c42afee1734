"""The `mendflow` command. Errors are one line on stderr: exit 2 for bad input, 1 for everything else."""

from __future__ import annotations

import sys

import typer

from mendflow.cli import playbooks_cmd, scan_cmd, sim_cmd, stack_cmd
from mendflow.errors import InputError, MendflowError
from mendflow.redaction import redact

app = typer.Typer(
    name="mendflow",
    help="Scan SaaS tenants for misconfigurations and fix them safely, on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("scan")(scan_cmd.scan)
app.command("demo")(stack_cmd.demo)
app.command("up")(stack_cmd.up)
app.command("worker")(stack_cmd.worker)
app.add_typer(sim_cmd.app, name="sim")
app.add_typer(playbooks_cmd.app, name="playbooks")


def main() -> None:
    try:
        app()
    except InputError as err:
        print(f"mendflow: {redact(str(err))}", file=sys.stderr)
        sys.exit(2)
    except MendflowError as err:
        print(f"mendflow: {redact(str(err))}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
