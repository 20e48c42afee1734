"""The switch, ticket and call step kinds in files: what loads, and what is refused with file:line:column."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mendflow.models import Finding, ResourceRef, Severity
from mendflow.responses import ResponsePlaybook, definition_digest, dependencies, load_response_file, response_problems
from mendflow.responses.triggers import launch_input, triggered_runs

HEAD = """apiVersion: mendflow/v1
kind: Workflow
id: test.response
title: t
inputs:
  type: object
  properties: {level: {type: string}, user: {type: string}}
steps:
"""


def _write(tmp_path: Path, steps: str) -> Path:
    path = tmp_path / "w.yaml"
    path.write_text(HEAD + steps)
    return path


def _problems(tmp_path: Path, steps: str) -> list[str]:
    path = _write(tmp_path, steps)
    return [str(e).removeprefix(f"{path}:") for e in response_problems(path)]


SWITCH = """  - id: pick
    kind: switch
    on: inputs.level
    cases:
      high: [page]
      3: [mail]
    default: [log]
  - {id: page, kind: wait, duration: 1s}
  - {id: mail, kind: wait, duration: 1s}
  - {id: log, kind: wait, duration: 1s}
"""


def test_a_switch_loads_and_its_branch_steps_need_only_the_switch(tmp_path: Path) -> None:
    """A bare `on:` key is the switch's expression (not YAML's boolean); case values are text; members need it."""
    playbook = load_response_file(_write(tmp_path, SWITCH))
    pick = playbook.steps[0]
    assert pick.on_ == "inputs.level" and pick.cases == {"high": ("page",), "3": ("mail",)}
    assert dependencies(playbook) == {"pick": (), "page": ("pick",), "mail": ("pick",), "log": ("pick",)}


def test_an_unknown_step_in_a_case_is_refused_where_it_is_written(tmp_path: Path) -> None:
    """A misspelt case member is named at its line and column, with the intended id."""
    found = _problems(tmp_path, SWITCH.replace("[mail]", "[mial]"))
    assert found == ["14:11: steps.0.cases.3.0: unknown step 'mial' — did you mean 'mail'?"]


def test_a_step_on_two_branches_is_refused(tmp_path: Path) -> None:
    """The same step in a case and in the default (or in an if's branch) would run on both or neither."""
    found = _problems(tmp_path, SWITCH.replace("default: [log]", "default: [log, page]"))
    assert found == ["15:20: steps.0.default.1: step 'page' is already on a branch ('high' case of 'pick'): a step "
                     "runs on one branch"]  # fmt: skip


def test_the_switch_expression_is_checked_like_any_cel(tmp_path: Path) -> None:
    """An undeclared input in `on` is refused inside the expression; `case` is an output, `choice` is not."""
    found = _problems(tmp_path, SWITCH.replace("on: inputs.level", "on: inputs.levle"))
    assert found == ["11:16: steps.0.on: unknown input 'levle' — did you mean 'level'?"]
    later = SWITCH + '  - {id: say, kind: notify, needs: [log], message: "${{ steps.pick.output.choice }}"}\n'
    found = _problems(tmp_path, later)
    assert len(found) == 1 and "the output of switch step 'pick' has no 'choice'" in found[0]


TICKET = """  - id: incident
    kind: ticket
    jira: {project: SEC, summary: "Compromise of ${{ inputs.user }}", description: "see run", timeline: true}
  - id: note
    kind: ticket
    jira: {key: "${{ steps.incident.output.key }}", comment: "done", transition: Done}
"""


def test_ticket_steps_create_and_then_comment_on_the_key(tmp_path: Path) -> None:
    """A create and a comment on its key load; the templates are checked like any other."""
    playbook = load_response_file(_write(tmp_path, TICKET))
    assert playbook.steps[1].jira is not None and playbook.steps[1].jira.transition == "Done"
    found = _problems(tmp_path, TICKET.replace("output.key", "output.kye"))
    assert len(found) == 1 and found[0].startswith("14:44: steps.1.jira.key: the output of ticket step 'incident'")


def test_a_ticket_step_must_create_or_name_its_issue(tmp_path: Path) -> None:
    """Neither a summary nor a key, or a comment on a ticket being created, is refused with the reason."""
    found = _problems(tmp_path, "  - {id: t, kind: ticket, jira: {project: SEC}}\n")
    assert found == ["9:33: steps.0.jira: a ticket step needs 'summary' (create an issue) or 'key' (comment on / "
                     "move one)"]  # fmt: skip
    found = _problems(tmp_path, "  - {id: t, kind: ticket, jira: {summary: s, comment: c}}\n")
    assert len(found) == 1 and "comment and transition need the 'key'" in found[0]


def test_call_inputs_are_cel_over_this_run(tmp_path: Path) -> None:
    """A call step's inputs are expressions: an unknown input of the caller is refused inside them."""
    steps = "  - {id: child, kind: call, playbook: test.child, inputs: {user: inputs.usr}}\n"
    found = _problems(tmp_path, steps)
    assert found == ["9:73: steps.0.inputs.user: unknown input 'usr' — did you mean 'user'?"]


def test_a_finding_triggered_run_carries_the_workflows_its_call_steps_run() -> None:
    """A triggered caller is launched with its callee pinned by digest (the workflows loaded on the worker)."""
    head = {"apiVersion": "mendflow/v1", "kind": "Workflow", "title": "t", "tenant": "github:acme"}
    schema = {"type": "object", "properties": {"resource": {"type": "string"}}}
    caller = ResponsePlaybook.model_validate({
        **head, "id": "x.caller", "inputs": schema, "triggers": [{"finding": "github.repo_hook.insecure_ssl"}],
        "steps": [{"id": "child", "kind": "call", "playbook": "x.callee", "inputs": {"resource": "inputs.resource"}}],
    })  # fmt: skip
    callee = ResponsePlaybook.model_validate(
        {**head, "id": "x.callee", "inputs": schema, "steps": [{"id": "say", "kind": "notify", "message": "hi"}]}
    )
    finding = Finding(
        fingerprint="fp-11", tenant="acme", provider="github", rule="github.repo_hook.insecure_ssl", title="t",
        severity=Severity.high, resource=ResourceRef(type="github.repo_hook", id="/repos/acme/api/hooks/11"),
        evidence={}, observed_at=datetime(2026, 12, 1, tzinfo=UTC),
    )  # fmt: skip
    runs = triggered_runs({w.id: w for w in (caller, callee)}, [finding], tenant_key="github:acme")
    started = launch_input(runs, runs.launches[0], tenant_key="github:acme", requested_by="scan")
    assert list(started.children) == ["x.callee"] and started.children["x.callee"].digest == definition_digest(callee)
