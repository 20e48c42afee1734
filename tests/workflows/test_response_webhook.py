"""The webhook-exposure response (examples/responses/github_webhook_exposure.yaml) end to end against the GitHub
simulator: disable → approve → delete, or enable again on rejection; a hook on an allowed host is left alone."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from mendflow.models import DecisionOutcome, Verdict
from mendflow.responses import load_response_file
from mendflow.responses.messages import ResponseStatus, RunState
from mendflow.runtime.responses import start_response, wait_response_idle
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg
from tests.signing import signed_decision
from tests.workflows.campaigns import RBAC, settings

EXAMPLE = Path(__file__).parents[2] / "examples" / "responses" / "github_webhook_exposure.yaml"
HISTORIES = Path(__file__).parent.parent / "histories"
INPUTS = {"repo": "acme/api", "hook_id": 11, "allowed_hosts": ["chat.acme.example"]}  # hook 11: ci.acme.example


@pytest.fixture
async def start(dev_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path) -> AsyncIterator[Any]:
    context = WorkerContext(registry=github_org.registry(), data_dir=tmp_path, playbooks={}, settings=settings())
    queue = f"q-{uuid.uuid4()}"
    client: Client = dev_env.client

    async def go(inputs: dict[str, Any]) -> Any:
        return await start_response(client, load_response_file(EXAMPLE), inputs, task_queue=queue)

    async with build_worker(client, context, task_queue=queue):
        yield go


def _hook(github_org: SimulatedOrg) -> dict[str, Any] | None:
    return next((h for h in github_org.state.repo("api")["_hooks"] if h["id"] == 11), None)


def _statuses(status: ResponseStatus) -> dict[str, str]:
    return {step.id: step.status.value for step in status.steps}


async def _decide(handle: Any, dev_env: WorkflowEnvironment, github_org: SimulatedOrg, verdict: Verdict) -> Any:
    waiting = await wait_response_idle(dev_env.client, handle.id)
    assert waiting.state is RunState.awaiting_approval
    hook = _hook(github_org)
    assert hook is not None and hook["active"] is False  # disabled before anyone is asked
    decision = signed_decision(handle.id, "alice", RBAC, verdict, "" if verdict is Verdict.approve else "our CI")
    await handle.execute_update("decide", decision, result_type=DecisionOutcome)
    return await handle.result()


async def test_an_unapproved_host_is_disabled_then_deleted_on_approval(
    start: Any, dev_env: WorkflowEnvironment, github_org: SimulatedOrg
) -> None:
    """Exposed (host not allowed): disabled at once, deleted once approved."""
    done = await _decide(await start(INPUTS), dev_env, github_org, Verdict.approve)
    assert done.state is RunState.completed
    assert _statuses(done) == {
        "hook": "done", "exposed": "done", "disable": "done", "ask": "approved", "delete": "done",
        "enable_again": "skipped",
    }  # fmt: skip
    assert _hook(github_org) is None


async def test_a_rejection_enables_the_hook_again(
    start: Any, dev_env: WorkflowEnvironment, github_org: SimulatedOrg
) -> None:
    """The owner vouches for the host: the hook is not deleted and delivers again."""
    handle = await start(INPUTS)
    done = await _decide(handle, dev_env, github_org, Verdict.reject)
    assert _statuses(done)["delete"] == "skipped" and _statuses(done)["enable_again"] == "done"
    hook = _hook(github_org)
    assert hook is not None and hook["active"] is True
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):  # replayed by tests/workflows/test_replay.py
        history = await handle.fetch_history()
        record = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES / "response-webhook-rejected.json").write_text(json.dumps(record, indent=1))


async def test_a_hook_on_an_allowed_host_is_left_alone(start: Any, github_org: SimulatedOrg) -> None:
    """Allowed host over https: the branch is not taken, nothing is disabled, nobody is asked."""
    handle = await start({**INPUTS, "allowed_hosts": ["ci.acme.example"]})
    done = await handle.result()
    assert done.state is RunState.completed and done.steps[1].output == {"value": False}
    assert set(_statuses(done).values()) == {"done", "skipped"} and _statuses(done)["ask"] == "skipped"
    hook = _hook(github_org)
    assert hook is not None and hook["active"] is True
