"""`mendflow run PLAYBOOK` starts a response workflow; `mendflow status RUN` shows a run's step timeline.

Inputs are checked against the workflow's JSON Schema before Temporal is contacted: a mismatch exits 2 naming
the field (`inputs.token_id: …`). The run is pinned to the file's content digest, so editing the file changes
new runs only. Exit codes with `--wait`: 0 finished (or waiting for an approval, or paused), 1 failed or rolled
back. A finished run with changes keeps them restorable for `--retention` (`mendflow rollback RUN`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError

from mendflow.cli.options import OutputFormat, temporal_options
from mendflow.errors import InputError, MendflowError
from mendflow.playbooks.model import Duration, format_duration
from mendflow.render import diff, table
from mendflow.responses import load_response_file
from mendflow.responses.calls import pin_calls
from mendflow.responses.inputs import read_inputs
from mendflow.responses.messages import DEFAULT_RETENTION, ResponseStatus, RunState
from mendflow.runtime.client import TASK_QUEUE, TemporalSettings, connect
from mendflow.runtime.responses import RUN_PREFIX, response_status, start_response, wait_response_idle


class RunFailed(MendflowError):
    """A run that ended failed or rolled back (exit 1)."""


Format = Annotated[OutputFormat, typer.Option("--format", help="table for people, json for the status model.")]


@temporal_options(before="task_queue")
def run(
    playbook: Annotated[Path, typer.Argument(help="A response workflow file (kind: Workflow).", metavar="PLAYBOOK")],
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="An input as NAME=VALUE (repeatable).", metavar="K=V")
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input-file", help="Inputs as a JSON or YAML mapping (--input wins).")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant key the steps act on (default: the file's).", metavar="KEY")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run until it finishes or waits for a person.")] = (
        False
    ),
    output: Format = OutputFormat.table,
    requested_by: Annotated[
        str, typer.Option("--as", help="Who starts the run (may not approve it: four-eyes).", metavar="NAME")
    ] = "",
    task_queue: Annotated[str, typer.Option("--task-queue", help="Task queue the workers poll.", metavar="NAME")] = (
        TASK_QUEUE
    ),
    retention: Annotated[
        str,
        typer.Option(
            "--retention",
            help="How long the finished run can still be rolled back from its captured state (0s: not at all).",
            metavar="DURATION",
        ),
    ] = format_duration(DEFAULT_RETENTION),
    *,
    temporal: TemporalSettings,
) -> None:
    """Start a response workflow with its inputs; prints the run id (and, with --wait, the step timeline)."""
    keep = parse_retention(retention)
    definition = load_response_file(playbook)
    children = pin_calls(definition, playbook)  # the workflows its call steps run, pinned now like the file
    checked = read_inputs(inputs or [], input_file, definition.inputs)  # before any connection: bad input is exit 2

    async def go() -> ResponseStatus | str:
        client = await connect(temporal)
        run_id = (await start_response(
            client, definition, checked, tenant_key=tenant, requested_by=requested_by, task_queue=task_queue,
            retention=keep, children=children,
        )).id  # fmt: skip
        return await wait_response_idle(client, run_id) if wait else run_id

    result = asyncio.run(go())
    if isinstance(result, str):
        typer.echo(result if output is OutputFormat.table else json.dumps({"run_id": result}))
        return
    _show(result, output)
    if result.state in (RunState.failed, RunState.rolled_back):
        raise RunFailed(f"run {result.run_id} ended {result.state.value}")


def is_run_id(text: str) -> bool:
    """A response run id (`response/<playbook>/<digest>/<n>`), as opposed to a campaign id."""
    return text.startswith(RUN_PREFIX)


def parse_retention(text: str) -> timedelta:
    """`--retention 7d` as a duration, or InputError naming the option."""
    try:
        return TypeAdapter(Duration).validate_python(text)
    except ValidationError as err:
        raise InputError(f"--retention {text!r}: {err.errors()[0]['msg']}") from None


def show_run(run_id: str, output: str, settings: TemporalSettings) -> None:
    """`mendflow status RUN` for a response run: asks Temporal (the command's --temporal-address, TLS options)."""

    async def go() -> ResponseStatus:
        return await response_status(await connect(settings), run_id)

    _show(asyncio.run(go()), OutputFormat(output))


def render_run(status: ResponseStatus) -> str:
    """The step timeline: each step's status, when it started and ended, and why (or whom it waits for)."""
    state = status.state.value + (" (paused: holds before its next step)" if status.paused else "")
    head = [f"run {status.run_id}", f"  {status.playbook_id} ({status.digest[:19]}…): {state}"]
    rows = [
        [
            step.id,
            step.kind,
            step.status.value,
            step.started_at.strftime("%H:%M:%S") if step.started_at else "",
            step.finished_at.strftime("%H:%M:%S") if step.finished_at else "",
            step.detail,
        ]
        for step in status.steps
    ]
    body = table(["step", "kind", "status", "started", "finished", "detail"], rows, max_width=[30, 9, 14, 8, 8, 80])
    lines = [*head, body]
    for d in status.decisions:
        lines.append(f"  decision: {d.verdict.value} by {d.approver} via {d.channel.value} at {d.at}: {d.reason}")
    steps = {step.id for step in status.steps}
    for event in status.timeline:  # what people and the run did besides the steps (the table has those)
        if event["event"].split(" ", 1)[0] not in steps:
            lines.append(f"  {event['at'][:19]}  {event['event']}  {event.get('detail', '')}".rstrip())
    if status.restorable:
        until = f" until {status.rollback_until:%Y-%m-%d %H:%M} UTC" if status.rollback_until else ""
        lines.append(f"  a rollback{until} restores, newest first:")
        lines.append(render_restorable(status))
    return "\n".join(lines)


def render_restorable(status: ResponseStatus) -> str:
    """What `rollback` would put back: each change's step, resource and its after → captured before state."""
    rows = [[r.step_id, r.action, r.resource, diff(r.after or {}, r.before or {})] for r in status.restorable]
    return table(["step", "action", "resource", "now → restored"], rows, max_width=[30, 30, 60, 60])


def _show(status: ResponseStatus, output: OutputFormat) -> None:
    typer.echo(status.model_dump_json() if output is OutputFormat.json else render_run(status))
