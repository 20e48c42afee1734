"""Response workflow paths that need no vendor: branches, durable waits, expiry, continue — on the time-skipping
server, so a day's wait takes milliseconds."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantRegistry
from mendflow.responses import ResponsePlaybook
from mendflow.responses.messages import ResponseStatus, RunState
from mendflow.runtime.responses import start_response, wait_response_idle
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from tests.signing import signed_decision, signed_request
from tests.workflows.campaigns import RBAC, settings

HISTORIES = Path(__file__).parent.parent / "histories"
HEAD = {"apiVersion": "mendflow/v1", "kind": "Workflow", "id": "test.paths", "title": "paths", "tenant": "none:x"}


def _definition(steps: str, inputs: dict[str, Any] | None = None) -> ResponsePlaybook:
    return ResponsePlaybook.model_validate(
        {**HEAD, "inputs": inputs or {"type": "object"}, "steps": yaml.safe_load(steps)}
    )


@pytest.fixture
async def run(time_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Any]:
    """Run a definition to its end on a worker with no tenant at all (nothing here may call a vendor)."""
    context = WorkerContext(registry=TenantRegistry(), data_dir=tmp_path, playbooks={}, settings=settings())
    queue = f"q-{uuid.uuid4()}"
    client: Client = time_env.client

    async def go(
        definition: ResponsePlaybook, inputs: dict[str, Any] | None = None, *, record: str = ""
    ) -> ResponseStatus:
        handle = await start_response(client, definition, inputs or {}, task_queue=queue)
        result = await handle.result()  # days of timers pass in milliseconds
        if record and os.environ.get("MENDFLOW_RECORD_HISTORIES"):  # replayed by tests/workflows/test_replay.py
            history = await handle.fetch_history()
            saved = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
            (HISTORIES / f"response-{record}.json").write_text(json.dumps(saved, indent=1))
        return result

    async with build_worker(client, context, task_queue=queue):
        yield go


def _statuses(status: ResponseStatus) -> dict[str, str]:
    return {step.id: step.status.value for step in status.steps}


async def test_if_runs_only_the_chosen_branch(run: Any) -> None:
    """The condition picks `then` or `else`; the other branch's steps are skipped, later steps still run."""
    definition = _definition(
        """
        - {id: check, kind: if, condition: inputs.n > 2, then: [big], else: [small]}
        - {id: big, kind: notify, message: "big ${{ inputs.n }}"}
        - {id: small, kind: notify, message: "small ${{ inputs.n }}"}
        - {id: after, kind: notify, needs: [check], message: "n was ${{ inputs.n }}"}
        """,
        {"type": "object", "properties": {"n": {"type": "integer"}}},
    )
    done = await run(definition, {"n": 5})
    assert _statuses(done) == {"check": "done", "big": "done", "small": "skipped", "after": "done"}
    assert done.steps[1].output["text"] == "big 5" and "else branch of check" in done.steps[2].detail
    done = await run(definition, {"n": 1})
    assert _statuses(done) == {"check": "done", "big": "skipped", "small": "done", "after": "done"}


async def test_a_durable_wait_of_days_passes_and_until_times_out(run: Any) -> None:
    """`wait: 3d` is a durable timer; `until` that never holds ends at its timeout with timed_out."""
    definition = _definition(
        """
        - {id: pause, kind: wait, duration: 3d}
        - {id: hold, kind: wait, until: "now > timestamp('2999-01-01T00:00:00Z')", timeout: 10m}
        - {id: after, kind: notify, when: steps.hold.output.timed_out, message: gave up}
        """
    )
    done = await run(definition, record="wait")
    assert done.state is RunState.completed
    assert _statuses(done) == {"pause": "done", "hold": "done", "after": "done"}
    assert done.steps[1].output == {"timed_out": True}
    started, ended = done.steps[0].started_at, done.steps[1].finished_at
    assert started is not None and ended is not None and (ended - started).total_seconds() >= 3 * 86400 + 600


async def test_an_approval_nobody_gives_expires_and_skips_what_needs_it(run: Any) -> None:
    """No decision within the timeout: the gate expires and the steps after it do not run (nothing to undo)."""
    definition = _definition(
        """
        - {id: ask, kind: approve, approval: {timeout: 1h}}
        - {id: go, kind: notify, message: approved}
        - {id: say, kind: notify, needs: [ask], when: 'steps.ask.status == "expired"', message: nobody answered}
        """
    )
    done = await run(definition, record="expired")
    assert _statuses(done) == {"ask": "expired", "go": "skipped", "say": "done"}
    assert "needs ask, which was expired" in done.steps[1].detail


async def test_on_failure_continue_skips_only_the_steps_that_need_the_failure(run: Any) -> None:
    """A failing step with `continue` is recorded; its dependents are skipped, independent steps run."""
    definition = _definition(
        """
        - {id: broken, kind: if, condition: '"not a bool"', on_failure: continue}
        - {id: dependent, kind: notify, message: x}
        - {id: independent, kind: notify, needs: [], message: y}
        """
    )
    done = await run(definition)
    assert done.state is RunState.completed
    assert _statuses(done) == {"broken": "failed", "dependent": "skipped", "independent": "done"}
    assert "not a bool" in done.steps[0].detail


async def test_on_failure_stop_ends_the_run_failed(run: Any) -> None:
    """The default `stop`: the run ends failed at the step, later steps stay pending."""
    definition = _definition(
        """
        - {id: broken, kind: notify, message: "${{ inputs.missing.field }}"}
        - {id: later, kind: notify, needs: [], message: y}
        """
    )
    done = await run(definition)
    assert done.state is RunState.failed
    assert _statuses(done) == {"broken": "failed", "later": "pending"}
    assert "message cannot be evaluated" in done.steps[0].detail


async def test_decisions_and_rollbacks_a_run_cannot_take_are_refused_in_plain_words(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Before any approval step: a decision is refused (not waiting for one), and so is a rollback by someone who
    is not one of the run's operators (resolved when it starts) — with the run's words, not a campaign's."""
    context = WorkerContext(registry=TenantRegistry(), data_dir=tmp_path, playbooks={}, settings=settings())
    queue = f"q-{uuid.uuid4()}"
    definition = _definition("- {id: later, kind: wait, duration: 1d}\n- {id: ask, kind: approve}\n")
    async with build_worker(time_env.client, context, task_queue=queue):
        handle = await start_response(time_env.client, definition, {}, task_queue=queue)
        while (await handle.query("status", result_type=ResponseStatus)).steps[0].status != "waiting":  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("decide", signed_decision(handle.id, "alice", RBAC))
        assert "the run is not waiting for an approval (state: running)" in str(refused.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("rollback", signed_request(handle.id, "rollback", "mallory", RBAC))
        assert "mallory may not operate test.paths" in str(refused.value.cause)
        await handle.terminate("test over")


async def test_a_rollback_request_cuts_a_long_wait_short(time_env: WorkflowEnvironment, tmp_path: Path) -> None:
    """A run approved and then waiting a week is rolled back at once on request, not after the week."""
    context = WorkerContext(registry=TenantRegistry(), data_dir=tmp_path, playbooks={}, settings=settings())
    queue = f"q-{uuid.uuid4()}"
    definition = _definition("- {id: ask, kind: approve}\n- {id: later, kind: wait, duration: 7d}\n")
    async with build_worker(time_env.client, context, task_queue=queue):
        handle = await start_response(time_env.client, definition, {}, task_queue=queue)
        await wait_response_idle(time_env.client, handle.id)
        await handle.execute_update("decide", signed_decision(handle.id, "alice", RBAC))
        while (await handle.query("status", result_type=ResponseStatus)).steps[1].status != "waiting":  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        await handle.execute_update("rollback", signed_request(handle.id, "rollback", "bob", RBAC))
        done = await handle.result()
    assert done.state is RunState.rolled_back
    assert _statuses(done) == {"ask": "approved", "later": "skipped"}
    waited = done.steps[1].finished_at - done.steps[1].started_at  # type: ignore[operator]
    assert waited.total_seconds() < 86400
