"""Tests as data for response workflows: rehearsed over a writable simulator, checked against trace and end state."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mendflow.playbooks.loader import load_any_file, load_playbooks
from mendflow.responses.cases import WorkflowCase, run_workflow_case
from mendflow.responses.model import ResponsePlaybook
from mendflow.responses.rehearsal import decision_problems
from tests.cli_in_process import Done, invoker

EXAMPLES = Path(__file__).parents[2] / "examples" / "responses"
HOOK = EXAMPLES / "github_webhook_exposure.yaml"
TENANT = str(EXAMPLES.parent / "acme-github.tenant.json")


def _hook_workflow() -> ResponsePlaybook:
    [workflow] = load_playbooks([HOOK]).workflows
    return workflow


WITH_CASES = {
    "okta.api_token.compromise",
    "github.repo_hook.exposure",
    "github.deploy_key.leak",
    "okta.user.staged_deprovisioning",
}


def test_the_shipped_examples_cases_pass() -> None:
    """The shipped scenarios have test cases beside them, and every case of every example passes."""
    loaded = load_playbooks([EXAMPLES])
    assert not loaded.errors, loaded.errors
    assert {w.id for w in loaded.workflows if loaded.workflow_cases[w.id]} >= WITH_CASES
    for workflow in loaded.workflows:
        for case in loaded.workflow_cases[workflow.id]:
            result = run_workflow_case(workflow, case)
            assert result.passed, (workflow.id, case.name, result.problems)


def test_a_wrong_expectation_fails_naming_state_step_and_field() -> None:
    """A rejected approval expected as approved: the run's end, the step and the resource field are each reported."""
    case = WorkflowCase.model_validate(
        {
            "name": "expects the delete",
            "tenant": TENANT,
            "inputs": {"repo": "acme/api", "hook_id": 11},
            "decisions": {"ask": "reject"},
            "expect": {
                "state": "failed",
                "steps": {"ask": "approved", "delete": "done"},
                "resources": {"/repos/acme/api/hooks/11": None, "/repos/acme/api/hooks/12": {"active": False}},
            },
        }
    )
    result = run_workflow_case(_hook_workflow(), case)
    assert result.problems == [
        "the run ended completed, expected failed",
        "step ask: rejected, expected approved (asks 1 of group:secops-oncall, expires after 1d: "
        "'Delete acme/api hook 11 (sends to https://ci.acme.example/hooks/github)?' — rejected)",
        "step delete: skipped, expected done (needs ask, which was rejected)",
        "/repos/acme/api/hooks/11: still there, expected it gone",
        "/repos/acme/api/hooks/12: active is True, expected False",
    ]


def test_a_failed_step_with_rollback_restores_earlier_changes(tmp_path: Path) -> None:
    """on_failure: rollback restores the completed reversible change in the simulator and verifies it."""
    path = tmp_path / "w.yaml"
    path.write_text(
        """apiVersion: mendflow/v1
kind: Workflow
id: test.rollback
title: t
tenant: github:acme
steps:
  - id: "off"
    kind: action
    action: github.repo_hook.set_active
    target: /repos/acme/api/hooks/11
    with: {active: false}
  - id: missing
    kind: action
    action: github.repo_hook.set_active
    target: /repos/acme/api/hooks/999
    with: {active: false}
    on_failure: rollback
"""
    )
    [workflow] = load_playbooks([path]).workflows
    case = WorkflowCase.model_validate(
        {
            "name": "rolls back",
            "tenant": TENANT,
            "expect": {
                "state": "rolled_back",
                "steps": {"off": "rolled_back", "missing": "failed"},
                "resources": {"/repos/acme/api/hooks/11": {"active": True}},
            },
        }
    )
    result = run_workflow_case(workflow, case)
    assert result.passed, result.problems


def test_cases_that_cannot_match_the_workflow_are_refused_with_positions(tmp_path: Path) -> None:
    """Unknown steps (with a suggestion), a decision for a step that asks nothing and bad inputs: file:line:column."""
    shutil.copy(HOOK, tmp_path / HOOK.name)
    tests = tmp_path / "github_webhook_exposure.tests.yaml"
    tests.write_text(
        """tests:
  - name: broken
    tenant: ../nowhere.json
    inputs: {repo: acme/api, hook_id: "11"}
    decisions: {aks: approve, disable: approve}
    expect: {steps: {delet: done}}
"""
    )
    errors = [str(e).removeprefix(f"{tests}:") for e in load_playbooks([tmp_path]).errors]
    assert errors == [
        "4:13: tests.0.inputs: inputs.hook_id: '11' is not of type 'integer'",
        "5:17: tests.0.decisions: unknown step 'aks' — did you mean 'ask'?",
        "5:31: tests.0.decisions: action step 'disable' takes no decision (approve steps and waits for an answer do)",
        "6:22: tests.0.expect.steps: unknown step 'delet' — did you mean 'delete'?",
    ]


def _failing_hook_case(folder: Path) -> None:
    """The hook workflow beside a case that expects the branch the run does not take."""
    shutil.copy(HOOK, folder / HOOK.name)
    (folder / "github_webhook_exposure.tests.yaml").write_text(
        f"""tests:
  - name: expects the wrong branch
    tenant: {TENANT}
    inputs: {{repo: acme/api, hook_id: 11}}
    expect: {{steps: {{enable_again: done}}}}
"""
    )


def test_playbooks_test_runs_workflow_cases_and_exits_1_when_one_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mendflow playbooks test FOLDER` rehearses each workflow case; a failing one prints its trace, exit 1."""
    invoke: Callable[..., Done] = invoker(capsys, monkeypatch)
    _failing_hook_case(tmp_path)
    done = invoke("playbooks", "test", str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert "FAIL  github.repo_hook.exposure › expects the wrong branch" in done.stdout
    assert "step enable_again: skipped, expected done (when is False)" in done.stdout
    assert "      step    delete: done github.repo_hook.delete: written and verified (cannot be undone)" in done.stdout
    assert "0 passed, 1 failed (0 case(s), 0 shape companion(s), 1 workflow case(s), 1 playbook(s))" in done.stdout


def test_failing_playbook_and_workflow_cases_print_what_each_produced_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One result type for both kinds: a failing detection case prints its findings (and plan), a failing workflow
    case its rehearsed steps, each under its FAIL line in the same layout."""
    invoke: Callable[..., Done] = invoker(capsys, monkeypatch)
    shipped = Path(__file__).parents[2] / "playbooks" / "github"
    shutil.copy(shipped / "deploy_key_write_access.yaml", tmp_path / "keys.yaml")
    cases = (shipped / "deploy_key_write_access.tests.yaml").read_text(encoding="utf-8")
    (tmp_path / "keys.tests.yaml").write_text(cases.replace("findings: [/repos/acme/api/keys/7]", "findings: []"))
    _failing_hook_case(tmp_path)
    done = invoke("playbooks", "test", str(tmp_path))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    playbook = next(n for n, line in enumerate(lines) if line.startswith("FAIL  github.deploy_key.write_access › "))
    workflow = lines.index("FAIL  github.repo_hook.exposure › expects the wrong branch")
    assert lines[playbook + 1 : workflow] == [
        "      findings: unexpected /repos/acme/api/keys/7",
        "      finding /repos/acme/api/keys/7",
    ]
    assert "      step    delete: done github.repo_hook.delete: written and verified (cannot be undone)" in lines


def test_switch_and_ticket_steps_are_rehearsed_and_other_kinds_get_a_generic_line(tmp_path: Path) -> None:
    """The switch picks its case as the workflow does; a ticket says what it would open; unknown kinds still run."""
    path = tmp_path / "w.yaml"
    path.write_text(
        """apiVersion: mendflow/v1
kind: Workflow
id: test.switch
title: t
tenant: github:acme
inputs: {type: object, properties: {level: {type: string}}, required: [level]}
steps:
  - {id: pick, kind: switch, "on": inputs.level, cases: {high: [page]}, default: [log]}
  - {id: page, kind: notify, message: "paging for ${{ inputs.level }}"}
  - {id: log, kind: notify, message: "logged"}
  - id: incident
    kind: ticket
    needs: [pick]
    jira: {project: SEC, summary: "level ${{ inputs.level }}"}
"""
    )
    [workflow] = load_playbooks([path]).workflows
    case = WorkflowCase.model_validate(
        {
            "name": "high pages",
            "tenant": TENANT,
            "inputs": {"level": "high"},
            "expect": {"state": "completed", "steps": {"pick": "done", "page": "done", "log": "skipped"}},
        }
    )
    result = run_workflow_case(workflow, case)
    assert result.passed, result.problems
    assert result.rehearsal is not None
    details = {step.id: step.detail for step in result.rehearsal.steps}
    assert details["pick"] == "'high' case: runs page"
    assert details["log"] == "in the 'default' case of pick, not taken"
    assert details["incident"] == "would open a Jira issue in SEC: 'level high'"


FAN_OUT = """apiVersion: mendflow/v1
kind: Workflow
id: test.fan_out
title: Disable hooks
tenant: github:acme
inputs: {type: object, properties: {hooks: {type: array, items: {type: integer}}}, required: [hooks]}
steps:
  - id: each
    kind: for_each
    items: inputs.hooks
    as: hook
    canary: 1
    max_failures: 0
    on_failure: rollback
    steps:
      - id: "off"
        kind: action
        action: github.repo_hook.set_active
        target: /repos/acme/api/hooks/${{ hook }}
        with: {active: false}
"""


def test_a_for_each_runs_its_body_per_item_and_a_failure_past_the_threshold_rolls_back(tmp_path: Path) -> None:
    """Items after the canary run until one fails (max_failures 0); the rest are not started, and the run's
    rollback restores the items' completed changes in the simulator."""
    path = tmp_path / "w.yaml"
    path.write_text(FAN_OUT)
    [workflow] = load_playbooks([path]).workflows
    resources = {"/repos/acme/api/hooks/11": {"active": True}, "/repos/acme/api/hooks/12": {"active": True}}
    case = WorkflowCase.model_validate(
        {
            "name": "stops",
            "tenant": TENANT,
            "inputs": {"hooks": [11, 999, 12]},
            "expect": {"state": "rolled_back", "steps": {"each": "rolled_back"}, "resources": resources},
        }
    )
    result = run_workflow_case(workflow, case)
    assert result.passed, result.problems
    assert result.rehearsal is not None
    [each] = result.rehearsal.steps
    assert [(o["index"], o["status"]) for o in each.output["items"]] == [(0, "done"), (1, "failed"), (2, "skipped")]
    assert each.detail == "restored {'active': True} (step each failed)"  # the item's change, undone
    good = WorkflowCase.model_validate(
        {
            "name": "all",
            "tenant": TENANT,
            "inputs": {"hooks": [11, 12]},
            "expect": {
                "state": "completed",
                "resources": {
                    "/repos/acme/api/hooks/11": {"active": False},
                    "/repos/acme/api/hooks/12": {"active": False},
                },
            },
        }
    )
    assert run_workflow_case(workflow, good).passed


def test_a_call_step_rehearses_the_called_workflow_and_a_rollback_undoes_its_changes(tmp_path: Path) -> None:
    """The child runs in place with its mapped inputs; its change is restored when the caller rolls back."""
    (tmp_path / "child.yaml").write_text(
        """apiVersion: mendflow/v1
kind: Workflow
id: test.child
title: child
tenant: github:acme
inputs: {type: object, properties: {hook: {type: integer}}, required: [hook]}
steps:
  - id: "off"
    kind: action
    action: github.repo_hook.set_active
    target: /repos/acme/api/hooks/${{ inputs.hook }}
    with: {active: false}
"""
    )
    (tmp_path / "parent.yaml").write_text(
        """apiVersion: mendflow/v1
kind: Workflow
id: test.parent
title: parent
tenant: github:acme
steps:
  - {id: child, kind: call, playbook: test.child, inputs: {hook: "11"}}
  - id: broken
    kind: action
    action: github.repo_hook.set_active
    target: /repos/acme/api/hooks/999
    with: {active: false}
    on_failure: rollback
"""
    )
    loaded = load_playbooks([tmp_path])
    assert not loaded.errors, loaded.errors
    library = {w.id: w for w in loaded.workflows}
    case = WorkflowCase.model_validate(
        {
            "name": "child then rollback",
            "tenant": TENANT,
            "expect": {
                "state": "rolled_back",
                "steps": {"child": "rolled_back", "broken": "failed"},
                "resources": {"/repos/acme/api/hooks/11": {"active": True}},
            },
        }
    )
    result = run_workflow_case(library["test.parent"], case, library=library)
    assert result.passed, result.problems
    assert result.rehearsal is not None
    child = result.rehearsal.steps[0]
    assert child.items is not None and [s.status.value for s in child.items[0]] == ["done"]
    assert child.output["state"] == "completed" and child.output["steps"]["off"]["after"] == {"active": False}


def test_answers_name_a_step_that_asks_and_one_of_its_options() -> None:
    """A question's answer must be one it offers; a body step is named alone or as `for_each.step`."""
    deprovisioning = load_any_file(EXAMPLES / "okta_staged_deprovisioning.yaml")
    assert isinstance(deprovisioning, ResponsePlaybook)
    assert decision_problems(deprovisioning, {"warn.ask": "keep", "undo_window.ask": "restore"}) == []
    assert decision_problems(deprovisioning, {"warn.ask": "maybe", "wran.ask": "keep", "users": "approve"}) == [
        ("warn.ask", "'maybe' is not an answer step 'warn.ask' takes (it takes: suspend, keep)"),
        ("wran.ask", "unknown step 'wran.ask' — did you mean 'warn.ask'?"),
        ("users", "read step 'users' takes no decision (approve steps and waits for an answer do)"),
    ]
