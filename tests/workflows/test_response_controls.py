"""Operating a response run: pause, resume, abort and rollback after the end — on the time-skipping server, so a
retention window of days passes in milliseconds. The requests are signed as the API signs them (tests.signing)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from mendflow.audit import AuditLog
from mendflow.auth.refusals import audit_refusals
from mendflow.models import Channel
from mendflow.responses import ResponsePlaybook, definition_digest
from mendflow.responses.messages import PinnedDefinition, ResponseStatus, RunState
from mendflow.runtime.responses import start_response, wait_response_idle
from mendflow.runtime.worker import build_worker
from mendflow.workflow_types import OperatorRequest
from tests.signing import signed_request
from tests.workflows.campaigns import RBAC
from tests.workflows.response_sites import okta_site, worker_context

HISTORIES = Path(__file__).parent.parent / "histories"
HEAD = {"apiVersion": "mendflow/v1", "kind": "Workflow", "id": "test.controls", "title": "controls"}
OWNER = "00u00000000000001sim"
SUSPEND = """
- {id: suspend, kind: action, action: okta.user.set_status, target: "/api/v1/users/${{ inputs.user }}",
   with: {status: SUSPENDED}}
- {id: tell, kind: notify, message: "suspended ${{ inputs.user }}"}
"""


def _definition(steps: str, *, tenant: str = "none:x") -> ResponsePlaybook:
    inputs = {"type": "object", "properties": {"user": {"type": "string"}}}
    return ResponsePlaybook.model_validate({**HEAD, "tenant": tenant, "inputs": inputs, "steps": yaml.safe_load(steps)})


@dataclass
class Env:
    client: Client
    queue: str
    time: WorkflowEnvironment
    okta: Any
    audit: AuditLog
    """The worker's audit chain (refusals of requests sent straight to Temporal land here)."""

    async def start(
        self, definition: ResponsePlaybook, inputs: dict[str, Any] | None = None, *, retention: timedelta = timedelta(0)
    ) -> WorkflowHandle[Any, ResponseStatus]:
        return await start_response(self.client, definition, inputs or {}, task_queue=self.queue, retention=retention)

    async def status(self, handle: WorkflowHandle[Any, ResponseStatus]) -> ResponseStatus:
        status: ResponseStatus = await handle.query("status", result_type=ResponseStatus)
        return status

    async def until(self, handle: WorkflowHandle[Any, ResponseStatus], step: str, status: str) -> ResponseStatus:
        for _ in range(500):
            now = await self.status(handle)
            if {s.id: s.status.value for s in now.steps}[step] == status:
                return now
            await asyncio.sleep(0.02)
        raise AssertionError(f"{step} never became {status}: {now}")

    def user(self, user_id: str) -> dict[str, Any]:
        return dict(next(u for u in self.okta.users if u["id"] == user_id))


@pytest.fixture
async def env(time_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    """A worker on the time-skipping server with the Okta simulator as tenant `okta:acme`."""
    queue = f"q-{uuid.uuid4()}"
    with okta_site(monkeypatch, "MENDFLOW_OKTA_CONTROLS_TOKEN") as site:
        context = worker_context(tmp_path, site.connection)
        audit_refusals(queue, context.audit)
        async with build_worker(time_env.client, context, task_queue=queue):
            yield Env(time_env.client, queue, time_env, site.okta, context.audit)


async def _record(handle: WorkflowHandle[Any, ResponseStatus], name: str) -> None:
    """Keep the history for tests/workflows/test_replay.py (MENDFLOW_RECORD_HISTORIES=1)."""
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):
        history = await handle.fetch_history()
        saved = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES / f"response-{name}.json").write_text(json.dumps(saved, indent=1))


def _statuses(status: ResponseStatus) -> dict[str, str]:
    return {step.id: step.status.value for step in status.steps}


async def test_pause_holds_before_the_next_step_and_resume_carries_on(env: Env) -> None:
    """Paused during a wait: the wait ends, the next step does not start until resumed; both are in the timeline."""
    definition = _definition("- {id: hold, kind: wait, duration: 1h}\n- {id: say, kind: notify, message: hi}\n")
    handle = await env.start(definition)
    await env.until(handle, "hold", "waiting")
    answer = await handle.execute_update("pause", signed_request(handle.id, "pause", "alice", RBAC), result_type=str)
    assert "holds before its next step" in answer
    await env.time.sleep(timedelta(hours=2))
    held = await wait_response_idle(env.client, handle.id)
    assert held.state is RunState.paused and held.paused
    assert _statuses(held) == {"hold": "done", "say": "pending"}
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("pause", signed_request(handle.id, "pause", "bob", RBAC))
    assert "already paused" in str(refused.value.cause)
    await handle.execute_update("resume", signed_request(handle.id, "resume", "bob", RBAC))
    done = await handle.result()
    assert done.state is RunState.completed and _statuses(done) == {"hold": "done", "say": "done"}
    events = [e["event"] for e in done.timeline]
    assert "paused by alice" in events and "resumed by bob" in events
    await _record(handle, "paused")


async def test_abort_ends_the_run_at_its_gate_and_someone_not_an_operator_is_refused(env: Env) -> None:
    """mallory (not an approver of the run) may not abort; bob's abort ends the run while it awaits approval."""
    definition = _definition("- {id: ask, kind: approve}\n- {id: later, kind: wait, duration: 7d}\n")
    handle = await env.start(definition)
    await wait_response_idle(env.client, handle.id)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("abort", signed_request(handle.id, "abort", "mallory", RBAC))
    assert "mallory may not operate test.controls" in str(refused.value.cause)
    await handle.execute_update("abort", signed_request(handle.id, "abort", "bob", RBAC, "false alarm"))
    done = await handle.result()
    assert done.state is RunState.aborted
    assert _statuses(done) == {"ask": "skipped", "later": "pending"}
    assert done.steps[0].detail == "aborted while waiting"
    assert any(e["event"] == "aborted by bob" and e["detail"] == "false alarm" for e in done.timeline)


async def test_an_aborted_run_keeps_its_changes_and_can_still_be_rolled_back(env: Env) -> None:
    """Abort after a suspension: the user stays suspended; within the retention window a rollback restores them."""
    definition = _definition(SUSPEND.replace("kind: notify,", "kind: wait, duration: 1d, needs: [suspend],")
                             .replace(' message: "suspended ${{ inputs.user }}"', ""), tenant="okta:acme")  # fmt: skip
    handle = await env.start(definition, {"user": OWNER}, retention=timedelta(days=3))
    await env.until(handle, "tell", "waiting")
    assert env.user(OWNER)["status"] == "SUSPENDED"
    await handle.execute_update("abort", signed_request(handle.id, "abort", "alice", RBAC))
    ended = await wait_response_idle(env.client, handle.id)
    assert ended.state is RunState.aborted and env.user(OWNER)["status"] == "SUSPENDED"
    assert [(r.step_id, r.before) for r in ended.restorable] == [("suspend", {"status": "ACTIVE"})]
    assert ended.rollback_until is not None
    await handle.execute_update("rollback", signed_request(handle.id, "rollback", "bob", RBAC, "wrong person"))
    done = await handle.result()
    assert done.state is RunState.rolled_back and _statuses(done)["suspend"] == "rolled_back"
    assert env.user(OWNER)["status"] == "ACTIVE" and not done.restorable
    await _record(handle, "aborted-then-rolled-back")


async def test_a_finished_run_is_rolled_back_from_its_captured_state_and_each_restore_verified(env: Env) -> None:
    """After `completed`, the run listens for `rollback` during its retention window: the suspension is restored
    (re-read and verified) and the run ends rolled back; a second rollback is refused."""
    handle = await env.start(_definition(SUSPEND, tenant="okta:acme"), {"user": OWNER}, retention=timedelta(days=7))
    ended = await wait_response_idle(env.client, handle.id)
    assert ended.state is RunState.completed and env.user(OWNER)["status"] == "SUSPENDED"
    assert [(r.action, r.resource, r.after) for r in ended.restorable] == [
        ("okta.user.set_status", f"/api/v1/users/{OWNER}", {"status": "SUSPENDED"})
    ]
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("rollback", signed_request(handle.id, "rollback", "mallory", RBAC))
    assert "may not operate" in str(refused.value.cause)
    await handle.execute_update("rollback", signed_request(handle.id, "rollback", "alice", RBAC, "wrong user"))
    done = await handle.result()
    assert done.state is RunState.rolled_back and env.user(OWNER)["status"] == "ACTIVE"
    assert _statuses(done) == {"suspend": "rolled_back", "tell": "done"}
    assert [e["event"] for e in done.timeline][-4:] == ["rollback requested by alice", "rolling back", "restored",
                                                        "rolled_back"]  # fmt: skip
    await _record(handle, "rolled-back-after-the-end")


async def test_after_the_retention_window_the_run_ends_and_its_changes_stay(env: Env) -> None:
    """Nobody asks within the window: the run ends with the change in place and says the state was released."""
    handle = await env.start(_definition(SUSPEND, tenant="okta:acme"), {"user": OWNER}, retention=timedelta(days=7))
    done = await handle.result()  # the time-skipping server jumps the 7 days
    assert done.state is RunState.completed and env.user(OWNER)["status"] == "SUSPENDED"
    assert done.timeline[-1]["event"] == "retention ended" and done.rollback_until is None


async def test_a_run_with_nothing_to_undo_ends_at_once_and_refuses_a_rollback(env: Env) -> None:
    """No reversible change completed: no retention wait, whatever the window."""
    definition = _definition("- {id: say, kind: notify, message: hi}\n")
    handle = await env.start(definition, retention=timedelta(days=7))
    done = await handle.result()
    assert done.state is RunState.completed and not done.restorable and done.rollback_until is None


async def test_requests_sent_straight_to_temporal_are_refused_and_audited_by_the_worker(env: Env) -> None:
    """Bypassing the API: an unsigned abort and mallory's signed pause are refused by the run and each lands in the
    worker's audit chain (as a campaign's refusals do); the run goes on."""
    handle = await env.start(_definition("- {id: hold, kind: wait, duration: 1h}\n"))
    await env.until(handle, "hold", "waiting")
    forged = OperatorRequest(operator="alice", groups=("secops-oncall",), channel=Channel.cli, reason="trust me")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("abort", forged)
    assert "unsigned request" in str(refused.value.cause)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update("pause", signed_request(handle.id, "pause", "mallory", RBAC))
    records = [r for r in env.audit.records() if r["kind"] == "workflow.refusal" and r["campaign_id"] == handle.id]
    assert [(r["details"]["verb"], r["actor"], r["details"]["signed"]) for r in records] == [
        ("abort", "alice", False), ("pause", "mallory", True)
    ]  # fmt: skip
    assert "unsigned request" in records[0]["reason"] and "may not operate" in records[1]["reason"]
    done = await handle.result()
    assert done.state is RunState.completed


async def test_a_restore_that_cannot_be_verified_after_the_end_is_recorded_as_such(env: Env) -> None:
    """The suspended user is deleted at the vendor after the run ended: the rollback cannot put them back, and the
    step says restore_failed (not rolled_back) with the reason, instead of claiming success."""
    handle = await env.start(_definition(SUSPEND, tenant="okta:acme"), {"user": OWNER}, retention=timedelta(days=7))
    await wait_response_idle(env.client, handle.id)
    env.okta.users[:] = [u for u in env.okta.users if u["id"] != OWNER]
    env.okta._by_id.pop(OWNER)  # the simulator's index too: the user is gone for every read and write
    env.okta._by_login = {k: u for k, u in env.okta._by_login.items() if u["id"] != OWNER}
    await handle.execute_update("rollback", signed_request(handle.id, "rollback", "alice", RBAC, "undo"))
    done = await handle.result()
    assert done.state is RunState.rolled_back
    assert _statuses(done)["suspend"] == "restore_failed" and "restore failed" in done.steps[0].detail
    assert [e["event"] for e in done.timeline][-2:] == ["restore_failed", "rolled_back"]


CHILD = {**HEAD, "id": "test.controls_child", "title": "suspend later", "tenant": "okta:acme"}
HELD_THEN_SUSPEND = """
- {id: hold, kind: wait, duration: 1h}
- {id: suspend, kind: action, action: okta.user.set_status, target: "/api/v1/users/${{ who }}",
   with: {status: SUSPENDED}}
"""


async def _stays_pending(env: Env, run_id: str, step: str) -> None:
    """`step` of run `run_id` stays pending for a while after the step before it ended (it is held, not slow)."""
    handle = env.client.get_workflow_handle(run_id)
    for _ in range(500):
        now: ResponseStatus = await handle.query("status", result_type=ResponseStatus)
        if _statuses(now).get(step.replace("suspend", "hold")) == "done":
            break
        await asyncio.sleep(0.02)
    assert _statuses(now).get(step.replace("suspend", "hold")) == "done", now  # else `pending` below proves nothing
    for _ in range(15):
        now = await handle.query("status", result_type=ResponseStatus)
        assert _statuses(now)[step] == "pending" and now.paused, now
        await asyncio.sleep(0.1)
    assert env.user(OWNER)["status"] == "ACTIVE"


async def test_a_pause_holds_the_running_pages_of_a_for_each_and_the_resume_releases_them(env: Env) -> None:
    """Paused while the item waits on its page: the wait ends, the page holds the item before its suspension until
    the run is resumed; then the item is suspended and the run completes."""
    body = yaml.safe_load(HELD_THEN_SUSPEND)
    steps = yaml.safe_dump([{"id": "each", "kind": "for_each", "items": "[inputs.user]", "as": "who", "steps": body}])
    handle = await env.start(_definition(steps, tenant="okta:acme"), {"user": OWNER})
    page = f"{handle.id}/each/0"
    for _ in range(500):
        with contextlib.suppress(Exception):  # the page may not have started yet
            status = await env.client.get_workflow_handle(page).query("status", result_type=ResponseStatus)
            if _statuses(status).get("hold#0") == "waiting":
                break
        await asyncio.sleep(0.02)
    await handle.execute_update("pause", signed_request(handle.id, "pause", "alice", RBAC))
    await env.time.sleep(timedelta(hours=2))
    await _stays_pending(env, page, "suspend#0")
    await handle.execute_update("resume", signed_request(handle.id, "resume", "bob", RBAC))
    done = await handle.result()
    assert done.state is RunState.completed and done.steps[0].output["done"] == 1
    assert env.user(OWNER)["status"] == "SUSPENDED"
    await _record(handle, "paused-pages")


async def _called_run_waits(
    env: Env, after: str, steps: str = HELD_THEN_SUSPEND, *, retention: timedelta = timedelta(0)
) -> WorkflowHandle[Any, ResponseStatus]:
    """A caller whose `sub` step calls `steps` (then `after`'s steps), once the called run waits in `hold`. The
    caller's handle (the called run's id is `<caller>/sub`)."""
    child = ResponsePlaybook.model_validate(
        {**CHILD, "inputs": {"type": "object", "properties": {"who": {"type": "string"}}},
         "steps": yaml.safe_load(steps.replace("${{ who }}", "${{ inputs.who }}"))}
    )  # fmt: skip
    caller = _definition("- {id: sub, kind: call, playbook: test.controls_child, inputs: {who: inputs.user}}\n" + after)
    pinned = {child.id: PinnedDefinition(definition=child, digest=definition_digest(child))}
    handle = await start_response(
        env.client, caller, {"user": OWNER}, tenant_key="okta:acme", task_queue=env.queue, children=pinned,
        retention=retention,
    )  # fmt: skip
    called = f"{handle.id}/sub"
    for _ in range(500):
        with contextlib.suppress(Exception):  # the called run may not have started yet
            status = await env.client.get_workflow_handle(called).query("status", result_type=ResponseStatus)
            if _statuses(status)["hold"] == "waiting":
                return handle
        await asyncio.sleep(0.02)
    raise AssertionError(f"the called run never waited in its hold step: {status}")


async def _paused_while_called_run_waits(env: Env, after: str) -> WorkflowHandle[Any, ResponseStatus]:
    """A caller whose `sub` step calls HELD_THEN_SUSPEND (then `after`'s steps), paused once the called run waits;
    two hours on, the called run still holds before its suspension. The caller's handle."""
    handle = await _called_run_waits(env, after)
    called = f"{handle.id}/sub"
    await handle.execute_update("pause", signed_request(handle.id, "pause", "alice", RBAC))
    await env.time.sleep(timedelta(hours=2))
    await _stays_pending(env, called, "suspend")
    return handle


async def test_a_pause_holds_a_called_run_and_the_resume_releases_it(env: Env) -> None:
    """Paused while the called run waits: its wait ends, it holds before its suspension (its status says paused)
    until the caller is resumed; then it suspends the user and both complete."""
    handle = await _paused_while_called_run_waits(env, "")
    await handle.execute_update("resume", signed_request(handle.id, "resume", "bob", RBAC))
    done = await handle.result()
    assert done.state is RunState.completed and done.steps[0].output["state"] == "completed", done.steps[0].detail
    assert env.user(OWNER)["status"] == "SUSPENDED"
    await _record(handle, "paused-call")


async def _called_status(env: Env, handle: WorkflowHandle[Any, ResponseStatus]) -> ResponseStatus:
    """The called run's final status."""
    status: ResponseStatus = await env.client.get_workflow_handle(
        f"{handle.id}/sub", result_type=ResponseStatus
    ).result()
    return status


async def test_an_abort_stops_a_called_run_held_by_the_pause(env: Env) -> None:
    """Paused, then aborted while the called run is held before its suspension: the abort reaches the called run,
    which ends aborted without suspending anyone, and the caller ends aborted instead of waiting for it."""
    handle = await _paused_while_called_run_waits(env, "- {id: after, kind: notify, message: never}\n")
    await handle.execute_update("abort", signed_request(handle.id, "abort", "bob", RBAC, "wrong user"))
    done = await asyncio.wait_for(handle.result(), timeout=30)
    assert done.state is RunState.aborted and _statuses(done) == {"sub": "skipped", "after": "pending"}
    assert done.steps[0].detail == f"child run {handle.id}/sub stopped: aborted" and not done.restorable
    called = await _called_status(env, handle)
    assert called.state is RunState.aborted and _statuses(called) == {"hold": "done", "suspend": "pending"}
    assert env.user(OWNER)["status"] == "ACTIVE"


SUSPEND_THEN_HOLD = """
- {id: suspend, kind: action, action: okta.user.set_status, target: "/api/v1/users/${{ who }}",
   with: {status: SUSPENDED}}
- {id: hold, kind: wait, duration: 1h}
- {id: tell, kind: notify, message: "never"}
"""


async def test_an_abort_stops_a_running_called_run_before_its_next_step_and_its_changes_stay(env: Env) -> None:
    """Aborted while the called run waits after suspending the user: the called run's wait is cut short and its
    next step never runs; the suspension stays, listed as the caller's, and a rollback within the retention window
    restores it."""
    handle = await _called_run_waits(env, "", SUSPEND_THEN_HOLD, retention=timedelta(days=1))
    await handle.execute_update("abort", signed_request(handle.id, "abort", "bob", RBAC, "false alarm"))
    ended = await asyncio.wait_for(wait_response_idle(env.client, handle.id), timeout=30)
    assert ended.state is RunState.aborted and _statuses(ended) == {"sub": "skipped"}
    called = await _called_status(env, handle)
    assert called.state is RunState.aborted
    assert _statuses(called) == {"suspend": "done", "hold": "skipped", "tell": "pending"}
    assert "stopped by the calling run: aborted" in [e["event"] for e in called.timeline]
    assert env.user(OWNER)["status"] == "SUSPENDED"
    assert [(r.step_id, r.after) for r in ended.restorable] == [("sub", {"status": "SUSPENDED"})]
    await handle.execute_update("rollback", signed_request(handle.id, "rollback", "alice", RBAC, "undo"))
    done = await handle.result()
    assert done.state is RunState.rolled_back and _statuses(done) == {"sub": "rolled_back"}
    assert env.user(OWNER)["status"] == "ACTIVE"


async def test_a_rollback_stops_a_running_called_run_and_restores_its_changes(env: Env) -> None:
    """Rolled back while the called run waits after suspending the user: the called run stops before its next
    step, and the caller restores the called run's suspension (newest first, verified) and ends rolled back."""
    handle = await _called_run_waits(env, "- {id: after, kind: notify, message: never}\n", SUSPEND_THEN_HOLD)
    assert env.user(OWNER)["status"] == "SUSPENDED"
    await handle.execute_update("rollback", signed_request(handle.id, "rollback", "alice", RBAC, "wrong user"))
    done = await asyncio.wait_for(handle.result(), timeout=30)
    assert done.state is RunState.rolled_back and _statuses(done) == {"sub": "rolled_back", "after": "pending"}
    assert [e["event"] for e in done.timeline][-3:] == ["rolling back", "restored", "rolled_back"]
    called = await _called_status(env, handle)
    assert called.state is RunState.aborted
    assert _statuses(called) == {"suspend": "done", "hold": "skipped", "tell": "pending"}
    assert env.user(OWNER)["status"] == "ACTIVE"
    await _record(handle, "rollback-stops-call")
    await _record(env.client.get_workflow_handle(f"{handle.id}/sub"), "rollback-stops-call-child")
