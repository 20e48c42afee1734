"""The `mendflow` command. Errors are one line on stderr: exit 2 for bad input, 1 for everything else."""

from __future__ import annotations

import logging
import os
import sys

import typer

from mendflow.cli import api_cmd, operate_cmd, plan_cmd, playbooks_cmd, rules_cmd, scan_cmd, sim_cmd, stack_cmd
from mendflow.errors import InputError, MendflowError
from mendflow.operations import Refused
from mendflow.redaction import redact

app = typer.Typer(
    name="mendflow",
    help="Scan SaaS tenants for misconfigurations and fix them safely, on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("scan")(scan_cmd.scan)
app.command("api")(api_cmd.api)
app.command("plan")(plan_cmd.plan)
app.command("demo")(stack_cmd.demo)
app.command("up")(stack_cmd.up)
app.command("worker")(stack_cmd.worker)
for name in ("status", "approve", "reject", "pause", "resume", "abort", "rollback", "suppress"):
    app.command(name)(getattr(operate_cmd, name))
app.add_typer(sim_cmd.app, name="sim")
app.add_typer(playbooks_cmd.app, name="playbooks")
app.add_typer(rules_cmd.app, name="rules")


def _run() -> int:
    try:
        app()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except InputError as err:
        print(f"mendflow: {redact(str(err))}", file=sys.stderr)
        return 2
    except Refused as err:
        print(f"mendflow: {redact(str(err))}", file=sys.stderr)
        return 3
    except MendflowError as err:
        print(f"mendflow: {redact(str(err))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def main() -> None:
    """Run the CLI, then leave without interpreter finalization.

    Every command has cleaned up (servers stopped, workers drained) by the time it returns. Finalizing the
    interpreter while the Temporal client's native runtime still has threads alive can abort the process
    (SIGABRT seen after a refused `approve`), turning a clean exit code into a crash, so we flush and `_exit`.
    """
    code = _run()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)
