"""`mendflow plan WORKFLOW`: the whole response on a read-only simulator of the tenant, step by step, unwritten."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from mendflow.playbooks.loader import load_any_file
from mendflow.redaction import register_secret
from mendflow.responses.model import ResponsePlaybook
from mendflow.responses.plan import plan_workflow, render_workflow_plan
from mendflow.responses.rehearsal import Answer
from mendflow.tenant import load_tenant_file
from tests.cli_in_process import Done, invoker

EXAMPLES = Path(__file__).parents[2] / "examples" / "responses"
HOOK = EXAMPLES / "github_webhook_exposure.yaml"
TENANT = EXAMPLES.parent / "acme-github.tenant.json"
INPUTS = {"repo": "acme/api", "hook_id": 11, "allowed_hosts": []}


def _workflow() -> ResponsePlaybook:
    workflow = load_any_file(HOOK)
    assert isinstance(workflow, ResponsePlaybook)
    return workflow


def test_an_approved_plan_shows_each_write_before_and_after_and_writes_nothing() -> None:
    """Branch, approval with who is asked, before → after per write; the read-only simulator saw no write."""
    plan = plan_workflow(_workflow(), INPUTS, load_tenant_file(TENANT))
    steps = {step.id: step for step in plan.steps}
    assert plan.state.value == "completed" and not plan.written and plan.refused_writes == []
    assert {k: s.status.value for k, s in steps.items()} == {
        "hook": "done", "exposed": "done", "disable": "done", "ask": "approved", "delete": "done",
        "enable_again": "skipped",
    }  # fmt: skip
    assert (steps["disable"].before, steps["disable"].after) == ({"active": True}, {"active": False})
    assert steps["delete"].after == {"state": "deleted"}
    assert steps["ask"].detail.startswith("asks 1 of group:secops-oncall, expires after 1d:")
    text = render_workflow_plan(plan)
    assert "nothing was written" in text
    assert "/repos/acme/api/hooks/11: active: true → false" in text
    assert "Ends completed: 2 write(s) that change something, 1 approval(s) asked." in text


def test_a_later_write_starts_from_what_earlier_steps_would_have_written() -> None:
    """Rejected: enabling the hook again starts from the disabled state the plan's earlier step leaves."""
    plan = plan_workflow(_workflow(), INPUTS, load_tenant_file(TENANT), answers={"ask": Answer.reject})
    again = next(step for step in plan.steps if step.id == "enable_again")
    assert again.status.value == "done" and (again.before, again.after) == ({"active": False}, {"active": True})
    assert plan.refused_writes == []


@pytest.fixture
def invoke(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Done]:
    return invoker(capsys, monkeypatch)


def test_plan_cli_prints_json_and_refuses_bad_inputs_naming_the_field(invoke: Callable[..., Done]) -> None:
    """`--format json` is the rehearsal; an input of the wrong type or a --decide for no approve step: exit 2."""
    args = ("plan", str(HOOK), "-f", str(TENANT), "-i", "repo=acme/api")
    done = invoke(*args, "-i", "hook_id=11", "--decide", "ask=expire", "--format", "json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["state"] == "completed" and plan["written"] is False
    assert {s["id"]: s["status"] for s in plan["steps"]}["ask"] == "expired"
    bad = invoke(*args, "-i", "hook_id=eleven")
    assert bad.returncode == 2 and "inputs.hook_id: 'eleven' is not of type 'integer'" in bad.stderr
    missing = invoke("plan", str(HOOK), "-f", str(TENANT), "-i", "hook_id=11")
    assert missing.returncode == 2 and "inputs.repo: 'repo' is a required property" in missing.stderr
    wrong_step = invoke(*args, "-i", "hook_id=11", "--decide", "delete=approve")
    assert wrong_step.returncode == 2 and "--decide delete" in wrong_step.stderr


def test_an_approval_shows_who_how_many_expiry_and_escalation(tmp_path: Path) -> None:
    """The approve step's line names the approvers, the count, the expiry and the escalation; a wait its length."""
    path = tmp_path / "w.yaml"
    path.write_text(
        """apiVersion: mendflow/v1
kind: Workflow
id: test.gate
title: t
tenant: github:acme
steps:
  - id: ask
    kind: approve
    approval: {approvers: ["user:alice", "user:bob"], required: 2, timeout: 8h, escalate_after: 2h,
               escalate_to: "group:secops-leads"}
  - {id: pause, kind: wait, duration: 3d}
"""
    )
    workflow = load_any_file(path)
    assert isinstance(workflow, ResponsePlaybook)
    plan = plan_workflow(workflow, {}, load_tenant_file(TENANT))
    ask, pause = plan.steps
    assert ask.detail == (
        "asks 2 of user:alice, user:bob, expires after 8h, escalates after 2h to group:secops-leads: 't' — approved"
    )
    assert pause.detail == "waits 3d"


def test_a_secret_read_from_the_tenant_never_reaches_the_plan(tmp_path: Path) -> None:
    """A registered secret in a hook's URL is masked in the read's output, the approval text and the JSON plan."""
    canary = "canary-" + secrets.token_hex(8)
    register_secret(canary)
    document = json.loads(TENANT.read_text(encoding="utf-8"))
    repo = next(r for r in document["github"]["repos"] if r["name"] == "api")
    hook = next(h for h in repo["_hooks"] if h["id"] == 11)
    hook["config"]["url"] = f"https://relay.example/in?key={canary}"
    tenant_path = tmp_path / "tenant.json"
    tenant_path.write_text(json.dumps(document))
    plan = plan_workflow(_workflow(), INPUTS, load_tenant_file(tenant_path))
    everything = plan.model_dump_json() + render_workflow_plan(plan)
    assert "relay.example" in everything  # the URL is there …
    assert canary not in everything  # … but never the secret in it


def test_a_for_each_plan_lists_each_item_and_its_writes(tmp_path: Path) -> None:
    """Per item: its value, how it ends and the body's before → after; the summary counts the items' writes."""
    from tests.responses.test_cases import FAN_OUT

    path = tmp_path / "w.yaml"
    path.write_text(FAN_OUT)
    workflow = load_any_file(path)
    assert isinstance(workflow, ResponsePlaybook)
    text = render_workflow_plan(plan_workflow(workflow, {"hooks": [11, 12]}, load_tenant_file(TENANT)))
    assert "item 0 11: done" in text and "item 1 12: done" in text
    assert "off done: github.repo_hook.set_active: would write" in text
    assert "/repos/acme/api/hooks/12: active: true → false" in text
    assert "Ends completed: 2 write(s) that change something, 0 approval(s) asked." in text
