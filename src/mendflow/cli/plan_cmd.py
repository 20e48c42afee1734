"""`mendflow plan --tenant-file F`: the dry run a team reviews before enabling playbooks, or the whole response of
one workflow (`mendflow plan WORKFLOW --input k=v -f F`); nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mendflow.cli.options import OutputFormat, PlaybookPaths, load_or_fail
from mendflow.errors import InputError
from mendflow.findings.risk import load_criticality
from mendflow.playbooks.loader import load_any_file, load_playbooks
from mendflow.playbooks.plan import TenantPlan, plan_tenant_file, render_plan
from mendflow.responses.inputs import read_inputs
from mendflow.responses.model import ResponsePlaybook
from mendflow.responses.plan import plan_workflow, render_workflow_plan
from mendflow.settings import Settings
from mendflow.tenant import load_tenant_file

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
    workflow_file: Annotated[
        Path | None,
        typer.Argument(
            help="A response workflow (kind: Workflow) to plan step by step with its inputs (or one detection "
            "playbook).",
            metavar="[PLAYBOOK]",
        ),
    ] = None,
    playbooks: PlaybookPaths = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table for people, json for tools.")] = (
        OutputFormat.table
    ),
    config: Annotated[
        Path | None, typer.Option("--config", help="mendflow.yaml: its RBAC section resolves the approvers.")
    ] = None,
    criticality: CriticalityOption = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="A workflow's input as NAME=VALUE (repeatable).", metavar="K=V"),
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input-file", help="A workflow's inputs as a JSON or YAML mapping (--input wins).")
    ] = None,
    decide: Annotated[
        list[str] | None,
        typer.Option(
            "--decide",
            help="How a workflow step is answered: an approve step STEP=approve|reject|expire (default: approve), a "
            "wait for an answer STEP=OPTION (default: no answer).",
            metavar="STEP=ANSWER",
        ),
    ] = None,
) -> None:
    """Show, per playbook, what it would change in the tenant: mode, approvers, rollout, before → after. Given one
    response workflow (kind: Workflow) and its inputs: the whole response, step by step, as it would happen."""
    settings = Settings.load(config)
    given = load_any_file(workflow_file) if workflow_file is not None else None
    if isinstance(given, ResponsePlaybook):
        workflow = given
        checked = read_inputs(inputs or [], input_file, workflow.inputs)  # exit 2 naming the field
        answers = _answers(decide or [])
        assert workflow_file is not None
        beside = {w.id: w for w in load_playbooks([workflow_file.parent]).workflows}  # what `call` steps may run
        rehearsal = plan_workflow(
            workflow, checked, load_tenant_file(tenant_file), answers=answers, rbac=settings.rbac, library=beside
        )
        typer.echo(
            rehearsal.model_dump_json(indent=2) if output == OutputFormat.json else render_workflow_plan(rehearsal)
        )
        return
    if inputs or input_file or decide:
        raise InputError("--input, --input-file and --decide are for a response workflow (kind: Workflow)")
    loaded = [given] if given is not None else load_or_fail(playbooks)
    levels = load_criticality(criticality) if criticality is not None else None
    print_plan(plan_tenant_file(tenant_file, loaded, rbac=settings.rbac, criticality=levels), output)


def _answers(pairs: list[str]) -> dict[str, str]:
    answers: dict[str, str] = {}
    for pair in pairs:
        step, sep, answer = pair.partition("=")
        if not sep or not step.strip() or not answer.strip():
            raise InputError(f"--decide {pair!r}: write STEP=ANSWER (approve, reject, expire, or a question's option)")
        answers[step.strip()] = answer.strip()
    return answers
