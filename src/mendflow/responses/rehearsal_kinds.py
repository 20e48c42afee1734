"""How each single step kind is rehearsed: read, action, approve, notify, snapshot, wait, if, switch, ticket.

A handler takes the run so far and the step, does what the step does against the simulated tenant (or, in a plan,
says what it would do), and returns its status, output and a line for people. The kinds that run other steps
(`for_each`, `call`) live with the walk that runs them, in `responses.rehearsal`.
"""

from __future__ import annotations

import hashlib
import json

from mendflow.actions import ACTIONS
from mendflow.connectors.registry import get_action
from mendflow.errors import MendflowError
from mendflow.models import Outcome
from mendflow.playbooks.model import format_duration
from mendflow.redaction import redact, redact_value
from mendflow.responses.answers import Answer
from mendflow.responses.messages import StepStatus
from mendflow.responses.model import Step, case_label
from mendflow.responses.rehearsal_state import Done, Run
from mendflow.responses.step_failure import StepFailed


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
