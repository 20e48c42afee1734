"""call steps: another workflow playbook runs as a child of the run, pinned when the run starts; its outputs become
the step's output, its failure follows the step's on_failure, and rolling the caller back restores the child's
completed changes too. Real dev server, worker and Okta simulator over loopback HTTP.

The rollback path's history is recorded into tests/histories/response-call-rolled-back.json
(MENDFLOW_RECORD_HISTORIES=1) and replayed by tests/workflows/test_replay.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.errors import PlaybookError
from mendflow.models import DecisionOutcome
from mendflow.redaction import register_secret
from mendflow.responses import load_response_file
from mendflow.responses.calls import pin_calls
from mendflow.responses.messages import ResponseStatus, RunState
from mendflow.runtime.responses import start_response, wait_response_idle
from mendflow.runtime.worker import build_worker
from tests.signing import signed_decision
from tests.workflows.campaigns import RBAC
from tests.workflows.response_helpers import decoded_payloads, in_process_cli
from tests.workflows.response_sites import okta_site, worker_context

HISTORIES = Path(__file__).parent.parent / "histories"
TOKEN, OWNER = "00T00000000000001sim", "00u00000000000001sim"
HEAD = "apiVersion: mendflow/v1\nkind: Workflow\ntenant: okta:acme\n"
CHILD = (
    HEAD
    + """id: test.contain_user
title: Suspend one user
inputs:
  type: object
  properties: {user: {type: string}}
  required: [user]
steps:
  - id: suspend
    kind: action
    action: okta.user.set_status
    target: /api/v1/users/${{ inputs.user }}
    with: {status: SUSPENDED}
"""
)
PARENT = (
    HEAD
    + """id: test.token_response
title: Contain the owner of a token, then check the token again
steps:
  - id: token
    kind: read
    target: /api/v1/api-tokens/TOKEN
  - id: contain
    kind: call
    playbook: test.contain_user
    inputs: {user: steps.token.output.userId}
  - id: recheck
    kind: read
    target: RECHECK
    on_failure: rollback
""".replace("TOKEN", TOKEN)
)


@pytest.fixture
async def run(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> AsyncIterator[Any]:
    queue = f"q-{uuid.uuid4()}"
    with okta_site(monkeypatch, "MENDFLOW_OKTA_CALL_TOKEN") as site:
        context = worker_context(tmp_path / "data", site.connection)

        cli = in_process_cli(monkeypatch, capsys)

        async def go(
            parent: str,
            child: str = CHILD,
            *,
            finish: bool = True,
            via_cli: bool = False,
            plant: Callable[[Any], None] | None = None,
        ) -> tuple[Any, Any, Callable[[], str]]:
            if plant is not None:  # change the simulated org first (its state, e.g. a canary secret in a name)
                plant(site.okta)
            (tmp_path / "child.yaml").write_text(child)
            (tmp_path / "parent.yaml").write_text(parent)
            if via_cli:  # `mendflow run` pins the called workflow itself, and --wait follows the run to its end
                monkeypatch.setenv("MENDFLOW_TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
                capsys.readouterr()
                code, out, err = await asyncio.to_thread(
                    cli, "run", str(tmp_path / "parent.yaml"), "--task-queue", queue, "--wait", "--format", "json"
                )
                assert code == 0, err
                result = ResponseStatus.model_validate_json(out)
                handle = dev_env.client.get_workflow_handle(result.run_id)
            else:
                definition = load_response_file(tmp_path / "parent.yaml")
                children = pin_calls(definition, tmp_path / "parent.yaml")
                (tmp_path / "child.yaml").write_text(child.replace("SUSPENDED", "DEPROVISIONED"))  # pinned: no effect
                handle = await start_response(
                    dev_env.client, definition, {}, task_queue=queue, children=children, requested_by="carol"
                )
                result = await handle.result() if finish else await wait_response_idle(dev_env.client, handle.id)

            def status() -> str:
                return str(next(u for u in site.okta.users if u["id"] == OWNER)["status"])

            return handle, result, status

        async with build_worker(dev_env.client, context, task_queue=queue):
            yield go


async def test_the_child_runs_pinned_and_rolling_the_caller_back_restores_its_changes(run: Any) -> None:
    """The child suspends the owner (its definition as pinned at the start, not as edited since); a later step of
    the caller fails with on_failure rollback, and the child's suspension is restored and verified."""
    recheck = "/api/v1/api-tokens/00Tnosuchtoken"
    handle, done, status = await run(PARENT.replace("RECHECK", recheck))
    steps = {s.id: s for s in done.steps}
    assert done.state is RunState.rolled_back and steps["recheck"].status.value == "failed"
    assert steps["contain"].status.value == "rolled_back" and status() == "ACTIVE"
    assert [e["event"] for e in done.timeline][-3:] == ["rolling back", "restored", "rolled_back"]
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):
        history = await handle.fetch_history()
        saved = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES / "response-call-rolled-back.json").write_text(json.dumps(saved, indent=1))


async def test_the_childs_outputs_become_the_steps_output(run: Any) -> None:
    """A completed child: its run id, state and each step's output are the call step's output; changes stay."""
    _, done, status = await run(PARENT.replace("RECHECK", f"/api/v1/api-tokens/{TOKEN}"))
    contain = next(s for s in done.steps if s.id == "contain")
    assert done.state is RunState.completed and contain.output["state"] == "completed"
    assert contain.output["run_id"] == f"{done.run_id}/contain"
    assert contain.output["steps"]["suspend"]["after"] == {"status": "SUSPENDED"} and status() == "SUSPENDED"


async def test_mendflow_run_pins_the_called_workflow_and_waits_for_the_whole_response(run: Any) -> None:
    """`mendflow run parent.yaml --wait`: the workflow it calls is found beside it and pinned; the call completes."""
    _, done, status = await run(PARENT.replace("RECHECK", f"/api/v1/api-tokens/{TOKEN}"), via_cli=True)
    contain = next(s for s in done.steps if s.id == "contain")
    assert done.state is RunState.completed and contain.output["state"] == "completed" and status() == "SUSPENDED"


async def test_a_failed_child_fails_the_call_step_by_its_on_failure(run: Any) -> None:
    """The child cannot read its user (404): it ends failed, and so does the call step and (on_failure: stop) the
    caller; the steps after it do not run."""
    bad_child = CHILD.replace("/api/v1/users/${{ inputs.user }}", "/api/v1/users/00unosuchuser")
    _, done, status = await run(PARENT.replace("RECHECK", f"/api/v1/api-tokens/{TOKEN}"), bad_child)
    contain = next(s for s in done.steps if s.id == "contain")
    assert done.state is RunState.failed and contain.status.value == "failed"
    assert contain.detail.endswith("/contain ended failed") and status() == "ACTIVE"


def test_calls_are_pinned_by_id_from_beside_the_file_and_refused_with_their_position(tmp_path: Path) -> None:
    """pin_calls finds the called workflow beside the caller; an unknown id, an input it does not declare and a
    cycle are refused at the file:line:column of the call."""
    (tmp_path / "child.yaml").write_text(CHILD)
    parent = tmp_path / "parent.yaml"
    parent.write_text(PARENT.replace("RECHECK", "/x"))
    pinned = pin_calls(load_response_file(parent), parent)
    assert list(pinned) == ["test.contain_user"] and pinned["test.contain_user"].digest.startswith("sha256:")
    parent.write_text(PARENT.replace("RECHECK", "/x").replace("playbook: test.contain_user", "playbook: test.contain"))
    unknown = r"parent.yaml:12:15: steps.1.playbook: no workflow playbook 'test.contain' beside this file — did you"
    with pytest.raises(PlaybookError, match=unknown + r" mean 'test.contain_user'"):
        pin_calls(load_response_file(parent), parent)
    parent.write_text(PARENT.replace("RECHECK", "/x").replace("{user:", "{usr:"))
    with pytest.raises(PlaybookError, match=r"parent.yaml:13:\d+: steps.1.inputs.usr: test.contain_user has no input"):
        pin_calls(load_response_file(parent), parent)
    looping = CHILD + "  - {id: again, kind: call, playbook: test.token_response}\n"
    (tmp_path / "child.yaml").write_text(looping)
    parent.write_text(PARENT.replace("RECHECK", "/x"))
    with pytest.raises(PlaybookError, match=r"child.yaml:\d+:\d+: .*test.token_response → test.contain_user → test."):
        pin_calls(load_response_file(parent), parent)


async def test_a_childs_approval_shows_in_the_caller_and_is_decided_on_the_child(
    dev_env: WorkflowEnvironment, run: Any
) -> None:
    """A called workflow that asks first: the caller waits for a decision too (so `mendflow run --wait` returns),
    its call step names the child run; the decision is made on the child, and both complete."""
    asking = CHILD.replace("steps:\n", "steps:\n  - {id: ask, kind: approve, approval: {timeout: 1h}}\n")
    parent = PARENT.replace("RECHECK", f"/api/v1/api-tokens/{TOKEN}")
    handle, waiting, status = await run(parent, asking, finish=False)
    contain = next(s for s in waiting.steps if s.id == "contain")
    assert waiting.state is RunState.awaiting_approval and contain.status.value == "waiting"
    child_id = f"{handle.id}/contain"
    assert child_id in contain.detail and status() == "ACTIVE"
    decision = signed_decision(child_id, "bob", RBAC)
    await dev_env.client.get_workflow_handle(child_id).execute_update("decide", decision, result_type=DecisionOutcome)
    done: ResponseStatus = await handle.result()
    assert done.state is RunState.completed and status() == "SUSPENDED"
    assert next(s for s in done.steps if s.id == "contain").output["steps"]["ask"]["approvers"] == ["bob"]


async def test_a_secret_in_what_a_call_passes_on_reaches_neither_history(
    run: Any, dev_env: WorkflowEnvironment
) -> None:
    """A canary secret in the token's name is masked where it is read, so the call inputs built from it, the child's
    notify text and both runs' histories carry the mask, never the secret."""
    canary = "canary-" + secrets.token_hex(12)
    register_secret(canary)
    child = CHILD.replace("properties: {user: {type: string}}", "properties: {user: {type: string}, label: {}}")
    child += "  - {id: tell, kind: notify, message: 'contained for ${{ inputs.label }}'}\n"
    parent = PARENT.replace("RECHECK", "/api/v1/users/" + OWNER).replace(
        "inputs: {user: steps.token.output.userId}",
        "inputs: {user: steps.token.output.userId, label: steps.token.output.name}",
    )

    def plant(okta: Any) -> None:
        next(t for t in okta.api_tokens if t["id"] == TOKEN)["name"] = canary

    handle, done, status = await run(parent, child, plant=plant)
    assert done.state is RunState.completed and status() == "SUSPENDED", done
    told = done.steps[1].output["steps"]["tell"]["text"]
    assert told == "contained for [REDACTED]"
    for run_id in (handle.id, f"{handle.id}/contain"):
        history = (await dev_env.client.get_workflow_handle(run_id).fetch_history()).to_json_dict()
        payloads = " ".join(decoded_payloads(history))  # the call's inputs, the child's reads, notify texts and outputs
        assert canary not in json.dumps(history) + payloads and "contained for [REDACTED]" in payloads, run_id
