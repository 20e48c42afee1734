"""A rehearsal of a response run: the same definition, interpreted in-process over a simulated tenant.

    for each step in run order:  skip? (as ResponseWorkflow decides) ─> HANDLERS[kind] ─> status, output, detail
    a failed step: stop | continue | rollback (captured state restored newest first)

`mendflow plan` rehearses against a read-only simulator (`write=False`): reads and captures are real GETs, writes
are shown as before → after and never sent. `mendflow playbooks test` rehearses against a writable simulator
(`write=True`), so a case can check the tenant's end state. No Temporal: approvals take the answers given
(`decisions`), durable waits move the rehearsal's clock instead of sleeping.

Each step kind has one entry in `HANDLERS` (single steps in `rehearsal_kinds`, the walk's state in
`rehearsal_state`; `for_each` and `call`, which walk steps of their own, here); a kind without one is rehearsed by
`generic` (marked done, its output fields null), so a new kind works at once and gets a real entry when it has a
simulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mendflow.connectors.http import VendorHttp
from mendflow.connectors.registry import get_action
from mendflow.errors import InputError, MendflowError
from mendflow.rbac import RbacConfig
from mendflow.responses.answers import Answer, decision_problems
from mendflow.responses.expressions import evaluate
from mendflow.responses.graph import OUTPUTS, dependencies, run_order
from mendflow.responses.inputs import check_inputs
from mendflow.responses.items import ItemOutcome, failure_limit, summary
from mendflow.responses.messages import RunState, StepStatus
from mendflow.responses.model import OnFailure, ResponsePlaybook, Step, StepKind
from mendflow.responses.progress import branch_owners, skip_reason
from mendflow.responses.rehearsal_kinds import action, approve, if_, notify, read, snapshot, switch, ticket, wait
from mendflow.responses.rehearsal_state import (
    Done,
    Handler,
    Rehearsal,
    RehearsedStep,
    Run,
)
from mendflow.responses.step_failure import StepFailed

__all__ = ["HANDLERS", "Answer", "Rehearsal", "RehearsedStep", "decision_problems", "rehearse"]


async def rehearse(
    definition: ResponsePlaybook,
    inputs: dict[str, Any],
    http: VendorHttp,
    *,
    write: bool,
    now: datetime,
    tenant: str = "",
    answers: Mapping[str, str] | None = None,
    rbac: RbacConfig | None = None,
    library: Mapping[str, ResponsePlaybook] | None = None,
) -> Rehearsal:
    """Run `definition` on the tenant behind `http` (inputs already checked; see the module docstring)."""
    run = Run(definition, inputs, http, write, now, answers or {}, rbac or RbacConfig())
    run.library = library or {}
    state = await _walk(run)
    return Rehearsal(
        playbook_id=definition.id,
        title=definition.title,
        tenant=tenant,
        inputs=inputs,
        written=write,
        state=state,
        steps=[run.records[s.id] for s in definition.steps],
    )


async def _walk(run: Run) -> RunState:
    """Every step of `run.definition` in run order, as the workflow runs them; how the run ends."""
    definition = run.definition
    run.records = {s.id: RehearsedStep(id=s.id, kind=s.kind.value) for s in definition.steps}
    steps = {s.id: s for s in definition.steps}
    deps = dependencies(definition)
    owners = branch_owners(definition)
    outer_status = {sid: record.status for sid, record in run.outer.items()}
    outer_output = {sid: record.output for sid, record in run.outer.items()}
    state, rollback = RunState.completed, ""
    for step_id in run_order(definition):
        step = steps[step_id]
        reason = skip_reason(
            step,
            steps=steps,
            deps=deps,
            owners=owners,
            status=outer_status | {sid: record.status for sid, record in run.records.items()},
            output=outer_output | {sid: record.output for sid, record in run.records.items()},
            evaluate=lambda source: evaluate(source, run.scope()),
        )
        if reason:
            run.records[step_id] = run.records[step_id].model_copy(
                update={"status": StepStatus.skipped, "detail": reason}
            )
            continue
        try:
            done = await HANDLERS.get(step.kind, generic)(run, step)
        except StepFailed as failed:
            update: dict[str, Any] = {"status": StepStatus.failed, "detail": str(failed)}
            if failed.output is not None:
                update["output"] = failed.output
            if failed.items is not None:
                update["items"] = failed.items
            run.records[step_id] = run.records[step_id].model_copy(update=update)
            if step.on_failure is OnFailure.stop:
                state = RunState.failed
                break
            if step.on_failure is OnFailure.rollback:
                rollback = f"step {step_id} failed"
                break
            continue
        run.records[step_id] = run.records[step_id].model_copy(
            update={k: v for k, v in vars(done).items() if v is not None}
        )
    if rollback:
        await _rollback_all(run, rollback)
        state = RunState.rolled_back
    return state


async def for_each(run: Run, step: Step) -> Done:
    """The body once per item, in order: canary items first (one failure there stops the rest), then the others
    until more than `max_failures` have failed. An item fails when a body step fails with stop or rollback (its own
    changes restored then); completed changes join the run's, for a rollback of the whole run."""
    assert step.as_ is not None
    items = run.value(step.items or "", "items")
    if not isinstance(items, list):
        raise StepFailed(f"items returned {type(items).__name__}, not a list")
    limit = failure_limit(step.max_failures, len(items))
    canary = min(step.canary or 0, len(items))
    body = run.definition.model_copy(update={"steps": step.steps})
    outer = {**run.outer, **run.records}
    outcomes: list[ItemOutcome] = []
    traces: list[list[RehearsedStep]] = []
    failures, why, latest = 0, "", run.now
    for index, value in enumerate(items):
        if why:
            outcomes.append(ItemOutcome(index=index, item=value, status="skipped", detail=f"not started: {why}"))
            continue
        inner = Run(body, run.inputs, run.http, run.write, run.now, run.answers, run.rbac)
        inner.extra, inner.outer, inner.planned, inner.library = {step.as_: value}, outer, run.planned, run.library
        inner.prefix = f"{run.prefix}{step.id}."
        ended = await _walk(inner)
        latest = max(latest, inner.now)  # items run side by side: the step lasts as long as its slowest item
        run.written.extend((step.id, *write[1:]) for write in inner.written)  # undone as the for_each's, as in a run
        failed = ended in (RunState.failed, RunState.rolled_back)
        failures += failed
        steps = {sid: {"status": r.status.value, "output": r.output} for sid, r in inner.records.items()}
        broke = next((r for r in inner.records.values() if r.status is StepStatus.failed), None)
        detail = f"{broke.id}: {broke.detail}" if failed and broke is not None else ""
        status = "failed" if failed else "done"
        outcomes.append(ItemOutcome(index=index, item=value, status=status, detail=detail, steps=steps))
        traces.append([inner.records[s.id] for s in step.steps])
        if failed and index < canary:
            why = f"{failures} of the {canary} canary item(s) failed"
        elif failures > limit:
            why = f"{failures} item(s) failed (max_failures: {limit})"
    run.now = latest
    output = summary(outcomes, stopped=bool(why))
    if why:
        raise StepFailed(why, output=output, items=traces)
    detail = f"{output['done']} done, {output['failed']} failed, {output['skipped']} skipped of {len(items)}"
    return Done(StepStatus.done, output, detail, items=traces)


async def call(run: Run, step: Step) -> Done:
    """The called workflow rehearsed in place, as the run's child would run; its completed reversible changes
    join this run's (a rollback of the caller restores them too)."""
    child = run.library.get(step.playbook or "")
    if child is None:
        raise StepFailed(f"no workflow playbook {step.playbook!r} loaded beside this one")
    given = {name: run.value(source, f"inputs.{name}") for name, source in (step.inputs or {}).items()}
    try:
        inputs = check_inputs(child.inputs, given)
    except InputError as err:
        raise StepFailed(f"{child.id}: {err}") from None
    inner = Run(child, inputs, run.http, run.write, run.now, run.answers, run.rbac)
    inner.planned, inner.library, inner.prefix = run.planned, run.library, f"{run.prefix}{step.id}."
    state = await _walk(inner)
    run.now = inner.now
    run.written.extend((step.id, *write[1:]) for write in inner.written)
    trace = [inner.records[s.id] for s in child.steps]
    output = {"run_id": f"rehearsal/{step.id}", "state": state.value, "steps": {r.id: r.output for r in trace}}
    if state is not RunState.completed:
        raise StepFailed(f"{child.id} ended {state.value}", output=output, items=[trace])
    return Done(StepStatus.done, output, f"runs {child.id}: {state.value}", items=[trace])


async def generic(run: Run, step: Step) -> Done:
    """A kind without a rehearsal of its own: marked as run; its output fields are there, all null."""
    output = dict.fromkeys(sorted(OUTPUTS.get(step.kind) or ()))
    return Done(StepStatus.done, output, f"{step.kind.value} step: not simulated in a rehearsal")


HANDLERS: dict[StepKind, Handler] = {
    StepKind.read: read,
    StepKind.action: action,
    StepKind.approve: approve,
    StepKind.notify: notify,
    StepKind.snapshot: snapshot,
    StepKind.wait: wait,
    StepKind.if_: if_,
    StepKind.switch: switch,
    StepKind.ticket: ticket,
    StepKind.for_each: for_each,
    StepKind.call: call,
}
"""How each step kind is rehearsed; kinds not listed go to `generic`."""


async def _rollback_all(run: Run, reason: str) -> None:
    """Newest first, as the workflow does; in a plan only the intent is recorded."""
    while run.written:
        step_id, name, resource, before = run.written.pop()
        record = run.records[step_id]
        restored = True
        if run.write:
            implementation = get_action(name)
            try:
                await implementation.restore(run.http, resource, before)
                restored = await implementation.holds(run.http, resource, before)
            except MendflowError:
                restored = False
        status = StepStatus.rolled_back if restored else StepStatus.restore_failed
        detail = f"{'restored' if run.write else 'would restore'} {before} ({reason})"
        run.records[step_id] = record.model_copy(update={"status": status, "detail": detail})
