"""for_each and waiting for a person's answer, on the time-skipping server with no vendor (notify without Slack
and `if` steps are the bodies): pages, canary, failure threshold, answers by the right people, expiry."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantRegistry
from mendflow.models import AuthMethod, Channel
from mendflow.responses import ResponsePlaybook
from mendflow.responses.messages import ResponseStatus, RunState
from mendflow.responses.questions import ANSWER_VERB, AnswerRequest, signed_choice
from mendflow.runtime.responses import start_response
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from tests.signing import SIGNER
from tests.workflows.campaigns import RBAC, settings

HEAD = {"apiVersion": "mendflow/v1", "kind": "Workflow", "id": "test.fan_out", "title": "t", "tenant": "none:x"}
LIST = {"type": "object", "properties": {"items": {"type": "array"}}}


def _definition(steps: str) -> ResponsePlaybook:
    return ResponsePlaybook.model_validate({**HEAD, "inputs": LIST, "steps": yaml.safe_load(steps)})


def signed_answer(workflow_id: str, question: str, option: str, person: str) -> AnswerRequest:
    """An answer signed the way the API signs one (the proof binds the question and the option)."""
    groups = RBAC.groups_of(person)
    proof = SIGNER.sign(
        workflow_id=workflow_id, verb=ANSWER_VERB, verdict=signed_choice(question, option), actor=person,
        groups=groups, auth=AuthMethod.token, channel=Channel.cli,
    )  # fmt: skip
    return AnswerRequest(question_id=question, option=option, person=person, groups=groups, proof=proof)


@dataclass
class Runner:
    client: Client
    queue: str

    async def start(self, definition: ResponsePlaybook, items: list[Any]) -> WorkflowHandle[Any, ResponseStatus]:
        return await start_response(self.client, definition, {"items": items}, task_queue=self.queue)


@pytest.fixture
async def runner(time_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Runner]:
    context = WorkerContext(registry=TenantRegistry(), data_dir=tmp_path, playbooks={}, settings=settings())
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context, task_queue=queue):
        yield Runner(time_env.client, queue)


def _statuses(status: ResponseStatus) -> dict[str, str]:
    return {step.id: step.status.value for step in status.steps}


CHECK_EACH = """
- id: each
  kind: for_each
  items: inputs.items
  as: n
  concurrency: 3
  {extra}
  steps:
    - {{id: big, kind: if, condition: n + 0 > 2}}
    - {{id: say, kind: notify, message: "item ${{{{ n }}}}"}}
- {{id: after, kind: notify, needs: [each], when: "true", message: "${{{{ steps.each.output.done }}}} done"}}
"""


async def test_each_item_runs_the_body_and_the_outcomes_are_the_output(runner: Runner) -> None:
    """Every item runs the body with its own value; later steps read the counts and per-item outputs."""
    handle = await runner.start(_definition(CHECK_EACH.format(extra="")), [1, 2, 3, 4, 5])
    done = await handle.result()
    assert done.state is RunState.completed and _statuses(done) == {"each": "done", "after": "done"}
    output = done.steps[0].output
    assert (output["done"], output["failed"], output["skipped"]) == (5, 0, 0)
    assert [o["steps"]["big"]["output"]["value"] for o in output["items"]] == [False, False, True, True, True]
    assert [o["steps"]["say"]["output"]["text"] for o in output["items"]] == [f"item {i}" for i in range(1, 6)]
    assert done.steps[1].output["text"] == "5 done"


async def test_an_empty_list_is_done_and_a_non_list_fails_the_step(runner: Runner) -> None:
    """No items: the step is done with zero counts; items that are not a list fail it, saying what they were."""
    empty = await (await runner.start(_definition(CHECK_EACH.format(extra="canary: 2")), [])).result()
    assert _statuses(empty) == {"each": "done", "after": "done"} and empty.steps[0].output["items"] == []
    assert empty.steps[1].output["text"] == "0 done"
    broken = _definition(CHECK_EACH.format(extra="").replace("items: inputs.items", "items: inputs.items.size()"))
    done = await (await runner.start(broken, [1])).result()
    assert _statuses(done)["each"] == "failed" and done.steps[0].detail == "items returned int, not a list"


async def test_a_failing_canary_stops_the_rest(runner: Runner) -> None:
    """The canary item fails: no other item starts, the step fails (on_failure: stop ends the run failed)."""
    handle = await runner.start(_definition(CHECK_EACH.format(extra="canary: 1")), ["x", 1, 2, 3])
    done = await handle.result()
    assert done.state is RunState.failed and _statuses(done)["each"] == "failed"
    assert "1 of the 1 canary item(s) failed" in done.steps[0].detail
    items = done.steps[0].output["items"]
    assert [o["status"] for o in items] == ["failed", "skipped", "skipped", "skipped"]
    assert items[1]["detail"].startswith("not started: 1 of the 1 canary")


async def test_failures_within_max_failures_are_tolerated_and_beyond_it_stop_the_step(runner: Runner) -> None:
    """max_failures: 1 lets one failed item pass; a second one fails the step (continue: the run goes on)."""
    one_bad = await (await runner.start(_definition(CHECK_EACH.format(extra="max_failures: 1")), [1, "x", 3])).result()
    assert _statuses(one_bad) == {"each": "done", "after": "done"} and one_bad.steps[0].output["failed"] == 1
    extra = "max_failures: 25%\n  on_failure: continue\n  concurrency: 1"
    two_bad = await (await runner.start(_definition(CHECK_EACH.format(extra=extra)), [1, "x", "y", 4, 5])).result()
    assert two_bad.state is RunState.completed and _statuses(two_bad)["each"] == "failed"
    assert "2 item(s) failed (max_failures: 1)" in two_bad.steps[0].detail
    assert [o["status"] for o in two_bad.steps[0].output["items"]] == ["done", "failed", "failed", "skipped", "skipped"]


ASK = """
- id: ask
  kind: wait
  answer: {from: '"alice"', question: "Keep the hook?", options: [keep, delete]}
  timeout: 2d
- {id: after, kind: notify, needs: [ask], when: steps.ask.status != "skipped",
   message: "${{ steps.ask.output.answer }}"}
"""


async def _until_waiting(handle: WorkflowHandle[Any, ResponseStatus]) -> ResponseStatus:
    while True:
        status = await handle.query("status", result_type=ResponseStatus)
        if status.state is RunState.waiting:
            return status
        await asyncio.sleep(0.05)


async def test_only_the_person_asked_or_an_operator_may_answer(runner: Runner) -> None:
    """mallory may not answer alice's question, nor may anyone pick an option not offered; bob (an operator,
    secops-oncall) may, and the answer becomes the step's output."""
    handle = await runner.start(_definition(ASK), [])
    waiting = await _until_waiting(handle)
    assert "waiting for alice to answer ask" in waiting.steps[0].detail and "Slack is not configured" in (
        waiting.steps[0].detail
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("answer", signed_answer(handle.id, "ask", "keep", "mallory"))
    assert "mallory may not answer a question put to alice" in str(refused.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("answer", signed_answer(handle.id, "ask", "maybe", "alice"))
    assert "'maybe' is not an option (options: keep, delete)" in str(refused.value.cause)
    forged = signed_answer(handle.id, "ask", "keep", "bob").model_copy(update={"option": "delete"})
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("answer", forged)
    assert "differs from what the API signed" in str(refused.value.cause)
    await handle.execute_update("answer", signed_answer(handle.id, "ask", "delete", "bob"))
    done = await handle.result()
    assert done.steps[0].output == {"answer": "delete", "by": "bob", "timed_out": False}
    assert done.steps[0].detail == "delete (bob for alice)" and done.steps[1].output["text"] == "delete"


async def test_a_question_nobody_answers_expires(runner: Runner) -> None:
    """Two days without an answer (skipped in milliseconds): the step is expired, timed_out is true."""
    done = await (await runner.start(_definition(ASK), [])).result()
    assert _statuses(done) == {"ask": "expired", "after": "done"}
    assert done.steps[0].output["timed_out"] is True and "no answer from alice within 2 days" in done.steps[0].detail


async def test_questions_inside_a_for_each_are_answered_per_item_on_the_page(runner: Runner) -> None:
    """Each item asks its own question (STEP#INDEX) on its page's run; answers go to that item only."""
    definition = _definition(
        """
- id: each
  kind: for_each
  items: inputs.items
  as: who
  concurrency: 5
  steps:
    - {id: ask, kind: wait, answer: {from: who, question: "Still need access?", options: [keep, drop]}, timeout: 3d}
"""
    )
    handle = await runner.start(definition, ["alice", "carol", "bob"])
    page = runner.client.get_workflow_handle(f"{handle.id}/each/0")
    for question, option, person in (("ask#0", "keep", "alice"), ("ask#1", "drop", "carol")):
        while True:
            try:
                await page.execute_update("answer", signed_answer(page.id, question, option, person))
                break
            except WorkflowUpdateFailedError as err:
                assert "nothing waits for an answer" in str(err.cause)  # not asked yet
                await asyncio.sleep(0.05)
            except RPCError:  # the page has not started yet
                await asyncio.sleep(0.05)
    done = await handle.result()
    asked = [o["steps"]["ask"] for o in done.steps[0].output["items"]]
    answers = [(a["status"], a["output"]["answer"]) for a in asked]
    assert answers == [("done", "keep"), ("done", "drop"), ("expired", "")]


async def test_a_few_hundred_items_keep_every_history_small(runner: Runner) -> None:
    """300 items run in 3 pages; the run's history holds one start and one result per page (about the size of
    the per-item outcomes), each page's the activities of its own items — all far below the campaigns' budget."""
    definition = _definition(
        """
- id: each
  kind: for_each
  items: inputs.items
  as: n
  concurrency: 100
  steps:
    - {id: say, kind: notify, message: "item ${{ n }}"}
"""
    )
    handle = await runner.start(definition, list(range(300)))
    done = await handle.result()
    assert done.steps[0].output["done"] == 300
    sizes = {}
    for run in (handle.id, *(f"{handle.id}/each/{start}" for start in (0, 100, 200))):
        history = await runner.client.get_workflow_handle(run).fetch_history()
        sizes[run] = len(json.dumps(history.to_json_dict()))
    budget = 2_000_000  # RemediationInput.history_budget_bytes: what a campaign lets one run's history reach
    assert max(sizes.values()) < budget / 4, sizes
    assert sizes[handle.id] < 300 * 1_000, sizes  # the run: about a kilobyte per item, whatever the body does


async def test_no_more_items_run_at_once_than_the_concurrency(runner: Runner) -> None:
    """Four items, concurrency 2, each waiting for an answer: two are asked, the other two not started until an
    answer frees a slot (nothing else asserted that `concurrency` bounds the items in flight)."""
    definition = _definition(
        """
- id: each
  kind: for_each
  items: inputs.items
  as: who
  concurrency: 2
  steps:
    - {id: ask, kind: wait, answer: {from: '"alice"', question: "Keep it?", options: [keep, drop]}, timeout: 3d}
"""
    )
    handle = await runner.start(definition, ["a", "b", "c", "d"])
    page = runner.client.get_workflow_handle(f"{handle.id}/each/0")

    async def asked(least: int) -> list[str]:
        """The items waiting for an answer, once at least `least` are."""
        waiting: list[str] = []
        for _ in range(500):
            with contextlib.suppress(RPCError):  # the page may not have started yet
                now = await page.query("status", result_type=ResponseStatus)
                waiting = sorted(s.id for s in now.steps if s.status.value == "waiting")
                if len(waiting) >= least:
                    return waiting
            await asyncio.sleep(0.02)
        raise AssertionError(f"fewer than {least} items asked: {waiting}")

    assert await asked(2) == ["ask#0", "ask#1"]
    await asyncio.sleep(0.5)  # time for a third item to start, were the bound not kept
    assert await asked(2) == ["ask#0", "ask#1"]
    await page.execute_update("answer", signed_answer(page.id, "ask#0", "keep", "alice"))
    for _ in range(500):
        if (waiting := await asked(1)) not in (["ask#1"], ["ask#0", "ask#1"]):  # until the answer frees a slot
            break
        await asyncio.sleep(0.02)
    assert waiting == ["ask#1", "ask#2"], waiting
    await handle.terminate()
