"""The `for_each` and `wait … answer` steps of a response run, and the `answer` update (mixed into the workflows).

    for_each ─> items (CEL list) ─> canary page ─> pages of child runs (`ResponseItemsWorkflow`), `concurrency`
        items at once ─> per-item outcomes; every completed reversible change joins the run's rollback list
    wait answer ─> ask_person (DM card, operators from RBAC) ─> durable wait ─> `answer` update (signed; the
        person asked or an operator) ─> output `answer`, `by`; nobody within `timeout` ─> expired

Everything here runs inside the workflow: deterministic, side effects only through activities and child runs.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from mendflow.auth.policy import nonce_of
    from mendflow.responses.graph import ancestors, steps_read
    from mendflow.responses.items import (
        PAGE_SIZE,
        ItemOutcome,
        ItemsInput,
        ItemsResult,
        failure_limit,
        pages,
        summary,
    )
    from mendflow.responses.messages import RunState, StepStatus
    from mendflow.responses.model import Step, StepKind
    from mendflow.responses.questions import AnswerRequest, AskInput, AskPlan, OpenQuestion, check_answer
    from mendflow.routing import Activity

if TYPE_CHECKING:
    from .response import ResponseWorkflow

ITEMS_WORKFLOW = "ResponseItemsWorkflow"
StepResult = tuple[StepStatus, dict[str, Any], str]


# ---- for_each -------------------------------------------------------------------------------------------------


async def run_for_each(run: ResponseWorkflow, step: Step) -> StepResult:
    """Run the body once per item in pages of child runs; fail the step when failures pass `max_failures`. A pause
    holds the running pages before their items' next step, and starts no new page until the resume."""
    from .response import HOLD_CHILDREN
    from .response import StepFailed as failed

    assert step.as_ is not None
    items = run._value(step.items or "", "items")
    if not isinstance(items, list):
        raise failed(f"items returned {type(items).__name__}, not a list")
    count = len(items)
    limit = failure_limit(step.max_failures, count)
    layout = pages(count, canary=min(step.canary or 0, count))
    concurrency = step.concurrency or 1
    in_parallel = max(1, concurrency // PAGE_SIZE)
    request = _items_input(run, step)
    outcomes: list[ItemOutcome] = []
    failures, stopped, why = 0, False, ""
    canary = bool(step.canary) and count > 0
    asks = any(s.answer is not None for s in step.steps)
    while layout and not stopped and not run._stopping():
        if run._holding() and workflow.patched(HOLD_CHILDREN):  # paused between pages: the next start on resume
            await run._checkpoint()
            if run._stopping():
                break
        group = [layout.pop(0)] if canary else [layout.pop(0) for _ in range(min(in_parallel, len(layout)))]
        allowed = 0 if canary else limit - failures
        try:
            results = await _pages(run, step, request, [(s, e, items[s:e]) for s, e in group], concurrency, allowed)
        finally:
            if asks and run._state is RunState.waiting:
                run._state = RunState.running
        for result in results:
            outcomes.extend(result.outcomes)
            failures += result.failures
            run._written.extend((step.id, change) for change in result.changes)
        if canary and failures:
            stopped, why = True, f"{failures} of the {group[0][1]} canary item(s) failed"
        elif failures > limit:
            stopped, why = True, f"{failures} item(s) failed (max_failures: {limit})"
        canary = False
    not_started = "not started: " + (why or run._stop_reason())
    done = {o.index for o in outcomes}
    outcomes.extend(
        ItemOutcome(index=i, item=items[i], status="skipped", detail=not_started) for i in range(count) if i not in done
    )
    outcomes.sort(key=lambda o: o.index)
    output = summary(outcomes, stopped=stopped)
    if stopped:
        run._set(step.id, status=StepStatus.running, output=output)
        raise failed(why)
    detail = f"{output['done']} done, {output['failed']} failed, {output['skipped']} skipped of {count}"
    return StepStatus.done, output, detail


def _items_input(run: ResponseWorkflow, step: Step) -> ItemsInput:
    """The part of every page's input that does not change: the body, and the outer steps it may read."""
    assert step.as_ is not None
    before = ancestors(run._deps, step.id)
    wanted = (steps_read(step.steps) & before) | {s for s in before if run._steps[s].kind is StepKind.approve}
    body = run._request.definition.model_copy(update={"steps": step.steps})
    return ItemsInput(
        response=run._request.model_copy(update={"definition": body}),
        step_id=step.id,
        as_name=step.as_,
        start=0,
        items=[],
        outer=[run._records[s] for s in sorted(wanted)],
        outer_kinds={s: run._steps[s].kind.value for s in sorted(wanted)},
    )


async def _pages(
    run: ResponseWorkflow,
    step: Step,
    request: ItemsInput,
    group: list[tuple[int, int, list[Any]]],
    concurrency: int,
    allowed: int,
) -> list[ItemsResult]:
    """Run some pages as child runs at once; a rollback or abort asked for meanwhile is passed on to them."""
    from .response import StepFailed

    handles = []
    per_page = max(1, min(concurrency // len(group), PAGE_SIZE))
    for start, _, items in group:
        page = request.model_copy(
            update={"start": start, "items": items, "concurrency": per_page, "failures_allowed": allowed}
        )
        handles.append(
            await workflow.start_child_workflow(
                ITEMS_WORKFLOW,
                page,
                id=f"{workflow.info().workflow_id}/{step.id}/{start}",
                result_type=ItemsResult,
                task_queue=workflow.info().task_queue,
            )
        )
    pages_now = ", ".join(f"{h.id} (items {s}-{e - 1})" for h, (s, e, _) in zip(handles, group, strict=True))
    run._set(step.id, status=StepStatus.running, detail=f"in {pages_now}")
    if any(s.answer is not None for s in step.steps):  # they wait for people: --wait returns, as for an approval
        run._state = RunState.waiting
    results = [asyncio.ensure_future(_result_of(handle)) for handle in handles]
    await run._follow(handles, lambda: all(r.done() for r in results))  # a pause holds the pages meanwhile
    if not all(r.done() for r in results):
        for handle in handles:
            await handle.signal("stop_items", run._cut_short())
    try:
        return list(await asyncio.gather(*results))
    except ChildWorkflowError as err:
        raise StepFailed(f"a page of items could not finish: {err.cause or err}") from None


async def _result_of(handle: workflow.ChildWorkflowHandle[Any, ItemsResult]) -> ItemsResult:
    return await handle


# ---- wait for a person's answer -------------------------------------------------------------------------------


async def ask_and_wait(run: ResponseWorkflow, step: Step, question_id: str) -> StepResult:
    """Ask the person (a DM card through the worker), then wait for their answer, an operator's, or the timeout."""
    from .response import RETRY, SHORT
    from .response import StepFailed as failed

    spec = step.answer
    assert spec is not None
    person = run._value(spec.from_, "answer.from")
    if not isinstance(person, str) or not person:
        raise failed(f"answer.from returned {person!r}, not a person's name")
    text = run._text(spec.question, "answer.question")
    definition = run._request.definition
    ask = AskInput(
        workflow_id=workflow.info().workflow_id,
        question_id=question_id,
        playbook_id=definition.id,
        severity=definition.severity,
        person=person,
        text=text,
        options=list(spec.options),
    )
    try:  # a DM is quick, whatever the step's timeout (that bounds the wait for the answer, below)
        plan: AskPlan = await workflow.execute_activity(
            Activity.ask_person,
            ask,
            result_type=AskPlan,
            task_queue=run._queue(Activity.ask_person),
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
    except ActivityError as err:
        raise failed(f"the question could not be asked: {err.cause or err}") from None
    run._open[question_id] = OpenQuestion(
        question_id=question_id, person=person, text=text, options=list(spec.options), plan=plan
    )
    sent = "" if plan.delivered else f" ({plan.detail})"
    run._set(step.id, status=StepStatus.waiting, detail=f"waiting for {person} to answer {question_id}{sent}: {text}")
    run._state = RunState.waiting
    try:
        await workflow.wait_condition(lambda: question_id in run._answers or run._stopping(), timeout=step.timeout)
    except TimeoutError:
        pass
    finally:
        run._open.pop(question_id, None)
        if not run._open:
            run._state = RunState.running
    answer = run._answers.pop(question_id, None)
    if answer is not None:
        by = answer.person if answer.person == person else f"{answer.person} for {person}"
        return (
            StepStatus.done,
            {"answer": answer.option, "by": answer.person, "timed_out": False},
            f"{answer.option} ({by})",
        )
    if run._stopping():
        return StepStatus.skipped, {"answer": "", "by": "", "timed_out": False}, run._cut_short()
    return (
        StepStatus.expired,
        {"answer": "", "by": "", "timed_out": True},
        f"no answer from {person} within {step.timeout}",
    )


class Answers:
    """The `answer` update: a person's answer to a question the run waits on (mixed into the workflows)."""

    _open: dict[str, OpenQuestion]
    """Question id → the question waiting now."""
    _answers: dict[str, AnswerRequest]
    """Question id → the accepted answer, until its step takes it."""
    _nonces: set[str]

    def _init_answers(self) -> None:
        self._open, self._answers = {}, {}

    @workflow.update
    def answer(self, request: AnswerRequest) -> str:
        """Record the answer (validated first: the question waits, the option is offered, the proof holds, and the
        person is the one asked or an operator)."""
        if request.proof is not None:
            self._nonces.add(nonce_of(request.proof.claims))
        self._answers[request.question_id] = request
        return f"{request.option!r} recorded for {request.question_id}"

    @answer.validator
    def _validate_answer(self, request: AnswerRequest) -> None:
        check_answer(
            request,
            workflow_id=workflow.info().workflow_id,
            question=self._open.get(request.question_id),
            nonces=self._nonces,
            now=workflow.now(),
        )

    @workflow.query
    def questions(self) -> list[OpenQuestion]:
        """The questions this run (or page) waits on now: ids to answer with, whom, and the options."""
        return [q.model_copy(update={"plan": AskPlan(operators=q.plan.operators)}) for q in self._open.values()]
