"""`mendflow playbooks validate|test|schema`: check playbooks, try them on a tenant, print the JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from mendflow.cli.options import OutputFormat
from mendflow.cli.plan_cmd import CriticalityOption, print_plan
from mendflow.errors import InputError
from mendflow.findings.risk import load_criticality
from mendflow.playbooks.base import did_you_mean
from mendflow.playbooks.case_result import CaseResult
from mendflow.playbooks.cases import run_playbook_tests
from mendflow.playbooks.json_schema import render_schema
from mendflow.playbooks.loader import LoadResult, bundled_playbook_dir, load_playbooks
from mendflow.playbooks.plan import plan_tenant_file
from mendflow.playbooks.policy import policy_problems
from mendflow.playbooks.shapes import run_shape_cases, shape_cases
from mendflow.render import diff
from mendflow.responses.cases import run_workflow_case
from mendflow.settings import Settings

app = typer.Typer(help="Author and check playbooks.", no_args_is_help=True)

Targets = Annotated[
    list[str] | None,
    typer.Argument(help="Playbook files, folders or ids of shipped playbooks (default: the shipped rule packs)."),
]


@app.command("validate")
def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders.")] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Also check this mendflow.yaml's policy: (parameter values) against them."),
    ] = None,
) -> None:
    """Load playbooks of both kinds (detection, and response workflows: `kind: Workflow`) with their test cases and
    report every error of every file with file:line:column; exit 2 if any."""
    result = load_playbooks(paths or [bundled_playbook_dir()])
    for error in result.errors:
        typer.echo(str(error), err=True)
    files = len({error.path for error in result.errors})
    valid = len(result.playbooks) + len(result.workflows)
    workflows = f" ({len(result.workflows)} of them response workflows)" if result.workflows else ""
    typer.echo(f"{valid} playbook(s) valid{workflows}; {len(result.errors)} error(s) in {files} file(s)")
    if result.errors:
        raise InputError(f"{len(result.errors)} error(s) in {files} playbook file(s)")
    if config is not None:
        settings = Settings.load(config)
        problems = policy_problems(settings.policy, {p.id: p for p in result.playbooks}, path=config)
        for problem in problems:
            typer.echo(problem, err=True)
        typer.echo(f"policy: {len(settings.policy)} tenant(s); {len(problems)} error(s) in {config}")
        if problems:
            raise InputError(f"{len(problems)} error(s) in the policy of {config}")


@app.command("test")
def test(
    targets: Targets = None,
    tenant_file: Annotated[
        Path | None,
        typer.Option("--tenant-file", "-f", help="Show findings and the planned changes on this tenant instead."),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="With --tenant-file: table or json.")] = (
        OutputFormat.table
    ),
    criticality: CriticalityOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show each case's findings and plan.")] = False,
    shapes: Annotated[
        bool,
        typer.Option(
            "--shapes/--no-shapes",
            help="Also run each case's generated value-shape companions: every type, null and absent form the "
            "vendor's schema allows for each field the condition reads (see `mendflow playbooks shapes`).",
        ),
    ] = True,
) -> None:
    """Run the playbooks' test cases and their value-shape companions, and response workflows' cases (rehearsed
    against a simulator of their tenant; exit 1 if one fails), or dry-run the playbooks on a tenant file."""
    loaded = _resolve(targets)
    playbooks = loaded.playbooks
    if tenant_file is not None:
        config = load_criticality(criticality) if criticality is not None else None
        print_plan(plan_tenant_file(tenant_file, playbooks, criticality=config), output)
        return
    results = run_playbook_tests(playbooks)
    companions = run_shape_cases(playbooks) if shapes else []
    for result in results + companions:
        _print_case(result, verbose=verbose)
    library = {w.id: w for w in loaded.workflows}  # what `call` steps may run
    rehearsed = [
        run_workflow_case(w, case, library=library)
        for w in loaded.workflows
        for case in loaded.workflow_cases.get(w.id, ())
    ]
    for outcome in rehearsed:
        _print_case(outcome, verbose=verbose)
    untested = [p.id for p in playbooks if not p.tests] + [
        w.id for w in loaded.workflows if not loaded.workflow_cases.get(w.id)
    ]
    failed = [r for r in results + companions if not r.passed] + [r for r in rehearsed if not r.passed]
    passed = len(results) + len(companions) + len(rehearsed) - len(failed)
    counts = f"{len(results)} case(s), " + (f"{len(companions)} shape companion(s), " if shapes else "")
    if loaded.workflows:
        counts += f"{len(rehearsed)} workflow case(s), "
    total = len(playbooks) + len(loaded.workflows)
    typer.echo(f"\n{passed} passed, {len(failed)} failed ({counts}{total} playbook(s))")
    if untested:
        typer.echo(f"without test cases: {', '.join(untested)}")
    if failed:
        raise typer.Exit(code=1)


@app.command("shapes")
def shapes_(targets: Targets = None) -> None:
    """Print the value-shape companions `test` generates for each case, as data (YAML)."""
    generated = [
        case.model_dump(mode="json") for playbook in _resolve(targets).playbooks for case in shape_cases(playbook)
    ]
    typer.echo(yaml.safe_dump({"shapes": generated}, sort_keys=False, allow_unicode=True), nl=False)


@app.command("schema")
def schema() -> None:
    """Print the playbook format's JSON Schema (`mendflow playbooks schema > playbooks/schema.json`)."""
    typer.echo(render_schema(), nl=False)


def _print_case(result: CaseResult, *, verbose: bool) -> None:
    typer.echo(f"{'PASS' if result.passed else 'FAIL'}  {result.playbook_id} › {result.name}")
    for problem in result.problems:
        typer.echo(f"      {problem}")
    if verbose or not result.passed:
        for line in _case_lines(result):
            typer.echo(f"      {line}")


def _case_lines(result: CaseResult) -> list[str]:
    """What the case produced: a playbook's findings and planned changes, or a workflow's rehearsed steps."""
    lines: list[str] = []
    if result.plan is not None:
        lines += [f"finding {finding.resource.id}" for finding in result.plan.findings]
        lines += [f"plan    {c.resource.id}: {c.note or diff(c.before, c.after)}" for c in result.plan.changes]
    if result.rehearsal is not None:
        lines += [f"step    {s.id}: {s.status.value} {s.detail}".rstrip() for s in result.rehearsal.steps]
    return lines


def _resolve(targets: list[str] | None) -> LoadResult:
    """Files and folders as given; a name that is no path is looked up among the shipped playbooks' ids."""
    paths: list[Path] = []
    ids: list[str] = []
    for target in targets or [str(bundled_playbook_dir())]:
        if Path(target).exists():
            paths.append(Path(target))
        else:
            ids.append(target)
    loaded = load_playbooks(paths) if paths else None
    errors = list(loaded.errors) if loaded else []
    playbooks = list(loaded.playbooks) if loaded else []
    if ids:
        shipped = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks}
        for wanted in ids:
            if wanted not in shipped:
                raise InputError(
                    f"no such file, folder or shipped playbook id {wanted!r}{did_you_mean(wanted, shipped)}"
                )
            playbooks.append(shipped[wanted])
    for error in errors:
        typer.echo(f"mendflow: {error}", err=True)
    if errors:
        raise InputError(f"{len(errors)} playbook error(s); fix them first (mendflow playbooks validate)")
    workflows = list(loaded.workflows) if loaded else []
    cases = dict(loaded.workflow_cases) if loaded else {}
    return LoadResult(playbooks=playbooks, workflows=workflows, workflow_cases=cases)
