"""A rehearsal of a response run: the same definition, interpreted in-process over a simulated tenant.

    for each step in run order:  skip? (as ResponseWorkflow decides) ─> HANDLERS[kind] ─> status, output, detail
    a failed step: stop | continue | rollback (captured state restored newest first)

`mendflow plan` rehearses against a read-only simulator (`write=False`): reads and captures are real GETs, writes
are shown as before → after and never sent. `mendflow playbooks test` rehearses against a writable simulator
(`write=True`), so a case can check the tenant's end state. No Temporal: approvals take the answers given
(`decisions`), durable waits move the rehearsal's clock instead of sleeping.

Each step kind has one entry in `HANDLERS`; a kind without one is rehearsed by `generic` (a line saying it was
not simulated, no output), so new kinds work at once and get a real entry when they have a simulator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mendflow.actions import ACTIONS
from mendflow.connectors.http import VendorHttp
from mendflow.connectors.registry import get_action
from mendflow.errors import InputError, MendflowError
from mendflow.models import Outcome
from mendflow.playbooks.base import did_you_mean
from mendflow.playbooks.model import format_duration
from mendflow.rbac import RbacConfig
from mendflow.redaction import redact, redact_value
from mendflow.responses.expressions import evaluate, render, scope
from mendflow.responses.graph import OUTPUTS, dependencies, run_order
from mendflow.responses.inputs import check_inputs
from mendflow.responses.items import ItemOutcome, failure_limit, summary
from mendflow.responses.messages import RunState, StepStatus
from mendflow.responses.model import OnFailure, ResponsePlaybook, Step, StepKind, case_label
from mendflow.responses.progress import branch_owners, skip_reason
from mendflow.rules import EvaluationError


class Answer(StrEnum):
    """How an approve step is answered in a rehearsal."""

    approve = "approve"
    reject = "reject"
    expire = "expire"
    """Nobody answers before the request expires (treated as a rejection)."""


def decision_problems(definition: ResponsePlaybook, decisions: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key, why) for each answer given to no step that takes one, or that the step does not offer. A key is a step
    id (every step of that id, in for_each bodies too) or `for_each-id.step-id` (that body only)."""
    takers = list(_steps_within(definition.steps, ""))
    names = {name for name, _ in takers} | {step.id for _, step in takers}
    found = []
    for key, given in decisions.items():
        matches = [step for name, step in takers if key in (name, step.id)]
        if not matches:
            found.append((key, f"unknown step {key!r}{did_you_mean(key, names)}"))
            continue
        for step in matches:
            offered = _offered(step)
            if offered is None:
                found.append(
                    (
                        key,
                        f"{step.kind.value} step {key!r} takes no decision (approve steps and waits for an answer do)",
                    )
                )
            elif given not in offered:
                found.append((key, f"{given!r} is not an answer step {key!r} takes (it takes: {', '.join(offered)})"))
            else:
                continue
            break
    return found


def _steps_within(steps: tuple[Step, ...], prefix: str) -> Iterator[tuple[str, Step]]:
    """(qualified id, step) of every step, those in for_each bodies too."""
    for step in steps:
        yield prefix + step.id, step
        yield from _steps_within(step.steps, f"{prefix}{step.id}.")


def _offered(step: Step) -> tuple[str, ...] | None:
    if step.kind is StepKind.approve:
        return tuple(answer.value for answer in Answer)
    if step.kind is StepKind.wait and step.answer is not None:
        return step.answer.options
    return None


class RehearsedStep(BaseModel):
    """One step as the rehearsal saw it."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    status: StepStatus = StepStatus.pending
    detail: str = ""
    """What it did or would do, whom it waits for, or why it was skipped."""
    output: dict[str, Any] = Field(default_factory=dict)
    """What later steps read as `steps.<id>.output` (as the real run would give it)."""
    resource: str | None = None
    """`action`: the resource written (or that would be)."""
    before: dict[str, Any] | None = None
    """`action`: the fields it writes, as the tenant holds them before the step."""
    after: dict[str, Any] | None = None
    """`action`: the same fields once the step ran."""
    items: list[list[RehearsedStep]] | None = None
    """`for_each`: per item started, its body's steps as rehearsed (the output keeps only what a run keeps);
    `call`: one entry, the called workflow's steps."""


class Rehearsal(BaseModel):
    """A whole rehearsed run."""

    model_config = ConfigDict(frozen=True)

    playbook_id: str
    title: str
    tenant: str
    inputs: dict[str, Any]
    written: bool
    """True when the writes were sent to the (simulated) tenant; False for a plan."""
    state: RunState
    steps: list[RehearsedStep]
    refused_writes: list[str] = Field(default_factory=list)
    """Writes the read-only simulator refused; always empty unless something tried to write during a plan."""


class StepFailed(MendflowError):
    """A rehearsed step could not do its job (the message says why, free of secrets)."""

    def __init__(
        self, message: str, *, output: dict[str, Any] | None = None, items: list[list[RehearsedStep]] | None = None
    ) -> None:
        super().__init__(message)
        self.output = output
        """What the step had produced when it failed (a `for_each` stopped by its failure threshold)."""
        self.items = items


@dataclass
class Run:
    """What a handler sees: the definition, the tenant, the answers, and every step so far."""

    definition: ResponsePlaybook
    inputs: dict[str, Any]
    http: VendorHttp
    write: bool
    now: datetime
    answers: Mapping[str, str] = field(default_factory=dict)
    """Step id (or `for_each-id.step-id`) → the answer: approve | reject | expire, or one of a question's options."""
    rbac: RbacConfig = field(default_factory=RbacConfig)
    records: dict[str, RehearsedStep] = field(default_factory=dict)
    written: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    """(step id, action, resource id, captured before) of reversible writes, in write order."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Variables besides inputs, steps and now: a `for_each` body's item."""
    outer: dict[str, RehearsedStep] = field(default_factory=dict)
    """A `for_each` body's view of the steps around it (read as `steps.<id>` like its own)."""
    library: Mapping[str, ResponsePlaybook] = field(default_factory=dict)
    """Workflows a `call` step may run, by id (those loaded beside the rehearsed one)."""
    prefix: str = ""
    """How this run's step ids are qualified in `answers`: `warn.` inside the body of the for_each `warn`."""
    planned: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Without writes (a plan): resource id → the fields earlier steps would have written, so a later step's
    before is what the tenant would hold by then, not what it holds now."""

    def scope(self) -> dict[str, Any]:
        records = {**self.outer, **self.records}
        steps = {sid: {"status": r.status.value, "output": r.output} for sid, r in records.items()}
        return {**scope(self.inputs, steps, self.now), **self.extra}

    def answer_for(self, step: Step) -> str | None:
        """The answer the rehearsal gives this step, if one was given."""
        return self.answers.get(self.prefix + step.id, self.answers.get(step.id))

    def value(self, source: str, what: str) -> Any:
        try:
            return evaluate(source, self.scope())
        except EvaluationError as err:
            raise StepFailed(f"{what} cannot be evaluated: {err}") from None

    def text(self, template: str, what: str) -> str:
        try:
            return render(template, self.scope())
        except EvaluationError as err:
            raise StepFailed(f"{what} cannot be evaluated: {err}") from None


@dataclass(frozen=True)
class Done:
    """What a handler returns."""

    status: StepStatus
    output: dict[str, Any]
    detail: str
    resource: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    items: list[list[RehearsedStep]] | None = None


Handler = Callable[[Run, Step], Awaitable[Done]]


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


# ---- one handler per step kind ---------------------------------------------------------------------------------


async def read(run: Run, step: Step) -> Done:
    path = run.text(step.target or "", "target")
    try:
        body = await run.http.get_json(path)
    except MendflowError as err:
        raise StepFailed(redact(str(err))) from None
    safe = redact_value(body)  # as the read activity masks it before it becomes history
    return Done(StepStatus.done, safe if isinstance(safe, dict) else {"items": safe}, f"GET {path}")


async def action(run: Run, step: Step) -> Done:
    assert step.action is not None
    spec = ACTIONS[step.action]
    resource = run.text(step.target or "", "target")
    try:
        params = spec.params.model_validate(step.with_ or {})
        implementation = get_action(spec.name)
        before = await implementation.capture(run.http, resource, params)
        if not run.write:
            earlier = run.planned.setdefault(resource, {})
            before = {name: earlier.get(name, value) for name, value in before.items()}
        after = params.as_body()
        if spec.reversible:  # registered before the write, as the workflow does
            run.written.append((step.id, spec.name, resource, before))
        if not run.write:
            run.planned[resource].update(after)
            outcome, detail = Outcome.planned, "would write" if before != after else "already as intended"
        else:
            await implementation.write(run.http, resource, after)
            if not await implementation.holds(run.http, resource, after):
                if spec.reversible:
                    run.written.pop()
                    await implementation.restore(run.http, resource, before)
                raise StepFailed(f"{spec.name} {resource}: the re-read does not show the intended state")
            outcome, detail = Outcome.verified, "written and verified"
    except (MendflowError, ValueError) as err:
        raise StepFailed(redact(str(err))) from None
    output = {
        "resource": {"type": spec.resource_type, "id": resource},
        "before": before,
        "after": after,
        "outcome": outcome.value,
        "detail": "",
    }
    note = "" if spec.reversible else " (cannot be undone)"
    return Done(StepStatus.done, output, f"{spec.name}: {detail}{note}", resource, before, after)


async def approve(run: Run, step: Step) -> Done:
    definition, policy = run.definition, step.approval
    approvers = run.rbac.approvers_for(definition.id, definition.severity, policy.approvers)
    required = run.rbac.required_for(definition.severity, policy.required)
    who = ", ".join(approvers) or "the RBAC default"
    asked = f"{required} of {who}, expires after {format_duration(policy.timeout)}"
    if policy.escalate_after is not None:
        asked += f", escalates after {format_duration(policy.escalate_after)} to {policy.escalate_to or 'the default'}"
    question = run.text(step.message, "message") if step.message else definition.title
    answer = Answer(run.answer_for(step) or Answer.approve)
    if answer is Answer.expire:
        run.now += policy.timeout
        output = {"approved": False, "approvers": [], "reason": ""}
        return Done(StepStatus.expired, output, f"asks {asked}: {question!r} — nobody answers in time")
    approved = answer is Answer.approve
    output = {"approved": approved, "approvers": list(approvers[:required]) if approved else [], "reason": ""}
    status = StepStatus.approved if approved else StepStatus.rejected
    return Done(status, output, f"asks {asked}: {question!r} — {status.value}")


async def notify(run: Run, step: Step) -> Done:
    text = run.text(step.message or "", "message")
    channel = step.channel or "the configured channel"
    return Done(StepStatus.done, {"delivered": True, "channel": channel, "text": text}, f"to {channel}: {text}")


async def snapshot(run: Run, step: Step) -> Done:
    values = {name: run.value(source, f"of.{name}") for name, source in (step.of or {}).items()}
    canonical = json.dumps(redact_value(values), sort_keys=True, separators=(",", ":"), default=str)
    digest = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    kept = "kept" if run.write else "would be kept"
    return Done(StepStatus.done, {"digest": digest, "count": len(values)}, f"{len(values)} value(s) {kept} as evidence")


async def wait(run: Run, step: Step) -> Done:
    if step.answer is not None:
        person = run.value(step.answer.from_, "answer.from")
        question = run.text(step.answer.question, "answer.question")
        asked = f"asks {person}: {question!r} ({'/'.join(step.answer.options)})"
        given = run.answer_for(step)
        if given is not None:
            return Done(StepStatus.done, {"timed_out": False, "answer": given, "by": str(person)}, f"{asked} — {given}")
        run.now += step.timeout
        detail = f"{asked} — no answer: times out after {format_duration(step.timeout)}"
        return Done(StepStatus.done, {"timed_out": True, "answer": "", "by": ""}, detail)
    if step.duration is not None:
        run.now += step.duration
        return Done(StepStatus.done, {"timed_out": False}, f"waits {format_duration(step.duration)}")
    if run.value(step.until or "", "until") is True:
        return Done(StepStatus.done, {"timed_out": False}, "until holds already")
    run.now += step.timeout
    detail = f"until does not hold: waits up to {format_duration(step.timeout)}, then goes on (timed out)"
    return Done(StepStatus.done, {"timed_out": True}, detail)


async def if_(run: Run, step: Step) -> Done:
    value = run.value(step.condition or "", "condition")
    if not isinstance(value, bool):
        raise StepFailed(f"condition returned {value!r}, not a bool")
    chosen = step.then if value else step.else_
    runs = f": runs {', '.join(chosen)}" if chosen else ""
    return Done(StepStatus.done, {"value": value}, f"{'then' if value else 'else'} branch{runs}")


async def switch(run: Run, step: Step) -> Done:
    value = run.value(step.on_ or "", "on")
    if not isinstance(value, str | int | float | bool):
        raise StepFailed(f"on returned {value!r}, not a string, number or bool")
    label = case_label(value)
    case = label if label in (step.cases or {}) else "default"
    members = (step.cases or {}).get(case, step.default)
    runs = f": runs {', '.join(members)}" if members else ""
    return Done(StepStatus.done, {"value": value, "case": case}, f"{case!r} case{runs}")


async def ticket(run: Run, step: Step) -> Done:
    spec = step.jira
    assert spec is not None
    verb = "would open"  # no Jira in a rehearsal, test cases included
    if spec.summary is not None:
        summary = run.text(spec.summary, "jira.summary")
        project = spec.project or "the configured project"
        return Done(StepStatus.done, {"key": "", "url": ""}, f"{verb} a Jira issue in {project}: {summary!r}")
    key = run.text(spec.key or "", "jira.key") or "the issue an earlier step opens"
    what = f"comment on {key}" if spec.comment is not None else f"move {key} to {spec.transition}"
    return Done(StepStatus.done, {"key": key, "url": ""}, f"would {what}")


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
