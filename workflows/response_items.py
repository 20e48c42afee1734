"""ResponseItemsWorkflow: one page of a `for_each` step — the body run once per item, a few items at once.

    per item (at most `concurrency` at once): the body's steps in order, with the item bound to the `as` name;
        a body step failing with `stop` fails the item; with `rollback` the item's own changes are restored
        (newest first) and the item fails; with `continue` the item goes on
    failures > failures_allowed, or `stop_items` (the parent's rollback or abort) ─> no new item starts
    `hold` (the parent is paused) ─> every item holds before its next step until `hold(False)`

It is the response interpreter itself (every step kind, the same activities), with per-item state: each item
has its own step records and its own list of changes, kept in a context variable the item's task sets. The
page returns each item's outcome and every completed reversible change, which the parent adds to its run's
rollback list.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from mendflow.models import Change, Outcome
    from mendflow.responses.graph import run_order
    from mendflow.responses.items import SUMMARY_KINDS, ItemOutcome, ItemsInput, ItemsResult
    from mendflow.responses.messages import ResponseStatus, StepRecord, StepStatus
    from mendflow.responses.model import OnFailure, Step, StepKind

from .response import ResponseWorkflow


@dataclass
class _Item:
    """One item's state while its body runs."""

    index: int
    value: Any
    records: dict[str, StepRecord]
    written: list[tuple[str, Change]] = field(default_factory=list)


_ITEM: ContextVar[_Item | None] = ContextVar("mendflow_response_item", default=None)


@workflow.defn(name="ResponseItemsWorkflow")
class ResponseItemsWorkflow(ResponseWorkflow):
    @workflow.init
    def __init__(self, request: ItemsInput) -> None:
        self._page = request
        self._shared_records: dict[str, StepRecord] = {}
        self._shared_written: list[tuple[str, Change]] = []
        super().__init__(request.response)
        body_roots = [s.id for s in request.response.definition.steps if not self._deps[s.id]]
        gates = tuple(r.id for r in request.outer if request.outer_kinds.get(r.id) == StepKind.approve.value)
        for record in request.outer:  # read-only: the body reads them; the approval rule sees the gates
            self._shared_records[record.id] = record
            known: dict[str, Any] = {"id": record.id, "kind": StepKind(request.outer_kinds[record.id])}
            self._steps[record.id] = Step.model_construct(**known)
            self._deps[record.id] = ()
        for root in body_roots:
            self._deps[root] = (*self._deps[root], *gates)
        self._completed: list[tuple[str, Change]] = []
        self._failures = 0
        self._items: dict[int, _Item] = {}
        """The items started so far, by index (what `status` shows, a page at most)."""

    # Per-item state: the interpreter reads `_records` and `_written`; inside an item's task they are the item's.

    @property
    def _records(self) -> dict[str, StepRecord]:
        item = _ITEM.get()
        return item.records if item is not None else self._shared_records

    @_records.setter
    def _records(self, value: dict[str, StepRecord]) -> None:
        self._shared_records.update(value)

    @property
    def _written(self) -> list[tuple[str, Change]]:
        item = _ITEM.get()
        return item.written if item is not None else self._shared_written

    @_written.setter
    def _written(self, value: list[tuple[str, Change]]) -> None:
        self._shared_written = value

    def _scope(self) -> dict[str, Any]:
        item = _ITEM.get()
        values = super()._scope()
        if item is not None:
            values[self._page.as_name] = item.value
        return values

    def _question_id(self, step: Step) -> str:
        item = _ITEM.get()
        return f"{step.id}#{item.index}" if item is not None else step.id

    @workflow.query
    def status(self) -> ResponseStatus:
        """The page as `mendflow status PAGE` shows it: each started item's body steps as `STEP#INDEX` rows (the
        ids its questions are answered by)."""
        body = [s.id for s in self._page.response.definition.steps]
        rows = [
            item.records[sid].model_copy(update={"id": f"{sid}#{index}"})
            for index, item in sorted(self._items.items())
            for sid in body
        ]
        return super().status().model_copy(update={"steps": rows, "restorable": []})

    @workflow.signal
    def stop_items(self, reason: str) -> None:
        """The parent run is rolling back or aborting: start no new item, cut waits short."""
        if not self._stopping():
            self._rollback_requested = reason

    @workflow.run
    async def run(self, request: ItemsInput) -> ItemsResult:  # type: ignore[override]
        order = run_order(request.response.definition)
        slots = asyncio.Semaphore(max(1, request.concurrency))
        stopped = False

        async def one(offset: int, value: Any) -> ItemOutcome:
            nonlocal stopped
            async with slots:
                index = request.start + offset
                if stopped or self._stopping():
                    why = "a failure threshold was passed" if stopped else self._rollback_requested
                    return ItemOutcome(index=index, item=value, status="skipped", detail=f"not started: {why}")
                outcome = await self._item(index, value, order)
                if outcome.status == "failed":
                    self._failures += 1
                    stopped = stopped or self._failures > request.failures_allowed
                return outcome

        outcomes = await asyncio.gather(*(one(i, v) for i, v in enumerate(request.items)))
        return ItemsResult(
            outcomes=list(outcomes), changes=[c for _, c in self._completed], failures=self._failures, stopped=stopped
        )

    async def _item(self, index: int, value: Any, order: list[str]) -> ItemOutcome:
        records = dict(self._shared_records) | {
            s.id: StepRecord(id=s.id, kind=s.kind.value) for s in self._page.response.definition.steps
        }
        item = self._items[index] = _Item(index=index, value=value, records=records)
        _ITEM.set(item)  # this task's own context: concurrent items do not see each other's
        status, detail = "done", ""
        for step_id in order:
            await self._checkpoint()  # held while the run is paused: before the item's next step
            if self._stopping():
                status, detail = "failed" if item.written else "skipped", f"stopped: {self._rollback_requested}"
                break
            failure = await self._run_step(self._steps[step_id])
            if failure in (OnFailure.stop, OnFailure.rollback):
                status, detail = "failed", f"{step_id}: {item.records[step_id].detail}"
                if failure is OnFailure.rollback:
                    while item.written:
                        done_by, change = item.written.pop()
                        restored = await self._restore(change, reason=f"item {index}: {step_id} failed")
                        back = restored.outcome is Outcome.restored
                        state = StepStatus.rolled_back if back else StepStatus.restore_failed
                        self._set(done_by, status=state, detail=restored.detail)
                break
        self._completed.extend(item.written)
        kinds = {s.id: s.kind.value for s in self._page.response.definition.steps}
        steps = {
            sid: {"status": item.records[sid].status.value}
            | ({"output": item.records[sid].output} if kinds[sid] in SUMMARY_KINDS else {})
            for sid in kinds
        }
        return ItemOutcome(index=index, item=value, status=status, detail=detail, steps=steps)
