"""The `mendflow` command. Errors are one line on stderr: exit 2 for bad input, 3 refused, 1 for everything else.

No error ever reaches the user as a Python traceback unless they ask for it with `--debug` (or MENDFLOW_DEBUG=1).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError

from mendflow.cli import (
    api_cmd,
    doctor_cmd,
    evidence_cmd,
    false_positive_cmd,
    findings_cmd,
    operate_cmd,
    plan_cmd,
    playbooks_cmd,
    rules_cmd,
    run_cmd,
    scan_cmd,
    schedules_cmd,
    sim_cmd,
    stack_cmd,
    tokens_cmd,
)
from mendflow.cli.failures import explain
from mendflow.cli.help_names import name_values
from mendflow.errors import InputError, MendflowError, Refused
from mendflow.redaction import redact

app = typer.Typer(
    name="mendflow",
    help="Scan SaaS tenants for misconfigurations and fix them safely, on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
DEBUG_ENV = "MENDFLOW_DEBUG"


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", envvar=DEBUG_ENV, help="On failure, also print the Python traceback.")
    ] = False,
) -> None:
    """Scan SaaS tenants for misconfigurations and fix them safely, on Temporal."""
    if debug:
        os.environ[DEBUG_ENV] = "1"


app.command("scan")(scan_cmd.scan)
app.command("api")(api_cmd.api)
app.command("plan")(plan_cmd.plan)
app.command("run")(run_cmd.run)
app.command("demo")(stack_cmd.demo)
app.command("up")(stack_cmd.up)
app.command("worker")(stack_cmd.worker)
for name in ("status", "approve", "reject", "answer", "pause", "resume", "abort", "rollback", "suppress"):
    app.command(name)(getattr(operate_cmd, name))
app.command("findings")(findings_cmd.findings)
app.command("mark-false-positive")(false_positive_cmd.mark_false_positive)
app.command("doctor")(doctor_cmd.doctor)
app.add_typer(sim_cmd.app, name="sim")
app.add_typer(playbooks_cmd.app, name="playbooks")
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(tokens_cmd.app, name="tokens")
app.add_typer(schedules_cmd.app, name="schedules")
app.add_typer(evidence_cmd.app, name="evidence")


def _debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0", "false")


def _fail(err: BaseException, code: int, message: str) -> int:
    if _debugging():
        traceback.print_exception(err, file=sys.stderr)
    print(f"mendflow: {redact(message)}", file=sys.stderr)
    return code


def _run() -> int:
    try:
        name_values(typer.main.get_command(app))()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except InputError as err:
        return _fail(err, 2, str(err))
    except Refused as err:
        return _fail(err, 3, str(err))
    except MendflowError as err:
        return _fail(err, 1, str(err))
    except (TemporalError, RPCError) as err:
        return _run_failed(err)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a bug of ours: still one line, and the way to see more
        where = err.__traceback__ and traceback.extract_tb(err.__traceback__)[-1]
        at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        return _fail(err, 1, f"internal error{at}: {type(err).__name__}: {err} (run with --debug for details)")
    return 0


def _run_failed(err: TemporalError | RPCError) -> int:
    """A Temporal failure no command translated itself: exit code by the error `type` the worker gave it."""
    problem = explain(err, what="the request")
    code = 2 if isinstance(problem, InputError) else 3 if isinstance(problem, Refused) else 1
    return _fail(err, code, str(problem))


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
