"""An approve step's `escalate_after`: on the time-skipping server, a run nobody decides tells the escalation
contact once (the Slack simulator over loopback receives the post), not before, and the approval still works
afterwards; a delivery that fails for good is noted and the run goes on. The escalated run's history is recorded
into tests/histories/response-escalated-approved.json (MENDFLOW_RECORD_HISTORIES=1) for test_replay.py."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from mendflow.models import DecisionOutcome
from mendflow.responses import ResponsePlaybook
from mendflow.responses.messages import ResponseStatus, RunState
from mendflow.runtime.responses import start_response, wait_response_idle
from mendflow.runtime.worker import build_worker
from mendflow.sim.slack import SlackWorkspace
from tests.integrations.conftest import CHANNEL, slack_settings
from tests.signing import signed_decision
from tests.workflows.campaigns import RBAC, settings
from tests.workflows.response_sites import slack_site, worker_context

STEPS = """
- {id: ask, kind: approve, approval: {timeout: 4h, escalate_after: 30m, escalate_to: "group:secops-leads"}}
- {id: after, kind: notify, message: "went ahead"}
"""
HEAD = {"apiVersion": "mendflow/v1", "kind": "Workflow", "id": "test.escalation", "title": "t", "tenant": "none:x"}
Handle = WorkflowHandle[Any, ResponseStatus]
HISTORIES = Path(__file__).parent.parent / "histories"


@pytest.fixture
async def slack() -> AsyncIterator[SlackWorkspace]:
    with slack_site() as workspace:
        yield workspace


@pytest.fixture
async def start(
    time_env: WorkflowEnvironment, slack: SlackWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    """Start a run of STEPS (Slack at the simulator) and return its handle once it awaits the approval."""
    config = settings().model_copy(update={"slack": slack_settings(slack, monkeypatch, "ESCALATION_SLACK")})
    queue = f"q-{uuid.uuid4()}"

    async def go() -> Handle:
        definition = ResponsePlaybook.model_validate({**HEAD, "steps": yaml.safe_load(STEPS)})
        handle = await start_response(time_env.client, definition, {}, task_queue=queue, requested_by="carol")
        assert (await wait_response_idle(time_env.client, handle.id)).state is RunState.awaiting_approval
        return handle

    async with build_worker(time_env.client, worker_context(tmp_path, settings=config), task_queue=queue):
        yield go


def _escalations(slack: SlackWorkspace) -> list[str]:
    return [versions[0].text for versions in slack.cards(CHANNEL) if "escalated to you" in versions[0].text]


async def _noted(handle: Handle, event: str) -> ResponseStatus:
    """The status once the timeline has `event` (the escalation activity runs after the timer fired)."""
    for _ in range(300):
        status: ResponseStatus = await handle.query("status", result_type=ResponseStatus)
        if any(e["event"] == event for e in status.timeline):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {event!r} in the timeline: {status.timeline}")


def _after_start(status: ResponseStatus, event: str) -> timedelta:
    at = {e["event"]: datetime.fromisoformat(e["at"]) for e in reversed(status.timeline)}  # the first of each
    return at[event] - at["started"]


async def _approve(handle: Handle) -> ResponseStatus:
    decided = await handle.execute_update(
        "decide", signed_decision(handle.id, "bob", RBAC), result_type=DecisionOutcome
    )
    assert decided.state == "approved", decided
    done: ResponseStatus = await handle.result()
    return done


async def test_an_undecided_approval_escalates_once_after_escalate_after_and_can_still_be_approved(
    time_env: WorkflowEnvironment, start: Any, slack: SlackWorkspace
) -> None:
    """Three hours undecided (timeout 4h): exactly one escalation, sent at 30 min (none earlier), naming the run and
    its step; bob then approves and the run goes ahead."""
    handle = await start()
    await time_env.sleep(timedelta(hours=1))
    status = await _noted(handle, "escalated")
    assert timedelta(minutes=30) <= _after_start(status, "escalated") < timedelta(minutes=31)
    ask = next(s for s in status.steps if s.id == "ask")
    assert ask.status.value == "waiting" and "(escalated to group:secops-leads)" in ask.detail
    await time_env.sleep(timedelta(hours=2))
    (sent,) = _escalations(slack)
    assert f"Response run {handle.id} (test.escalation), step ask," in sent and f"mendflow approve {handle.id}" in sent
    done = await _approve(handle)
    assert done.state is RunState.completed
    assert [(s.id, s.status.value) for s in done.steps] == [("ask", "approved"), ("after", "done")]
    assert [e["event"] for e in done.timeline].count("escalated") == 1 and len(_escalations(slack)) == 1
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):  # replayed by tests/workflows/test_replay.py
        history = await handle.fetch_history()
        saved = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES / "response-escalated-approved.json").write_text(json.dumps(saved, indent=1))


async def test_an_escalation_that_cannot_be_delivered_is_noted_and_the_run_goes_on(
    time_env: WorkflowEnvironment, start: Any, slack: SlackWorkspace
) -> None:
    """Slack refuses every post (503) while the run escalates: the activity's tries run out, the timeline says the
    escalation could not be delivered, and the approval given afterwards still lets the run complete."""
    handle = await start()
    slack.fail_next(50, status=503, methods=["chat.postMessage"])
    await time_env.sleep(timedelta(hours=1))
    status = await _noted(handle, "escalation could not be delivered")
    assert status.state is RunState.awaiting_approval and _escalations(slack) == []
    slack.faults.clear()
    done = await _approve(handle)
    assert done.state is RunState.completed and [s.status.value for s in done.steps] == ["approved", "done"]
