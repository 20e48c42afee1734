"""ResponseWorkflow: one run of a response workflow (a `kind: Workflow` playbook), interpreted step by step.

    for each step in dependency order:  skip? (a need skipped or rejected, another branch, `when` false)
        read ─> GET                      action ─> capture ─> apply + verify (restore at once if not verified)
        approve ─> the campaigns' gate   notify ─> Slack       snapshot ─> evidence by digest
        wait ─> durable timer / until    if / switch ─> choose the branch
        ticket ─> Jira, once per step    call ─> a child run of a pinned workflow (its changes join this run's;
                                          an abort or rollback here stops it before its next step)
    a failed step: stop | continue | rollback (every completed reversible change restored newest first, verified)
    operators: pause (hold before the next step) · resume · abort (end before the next step, changes stay) ·
        rollback (now, or after the end while the retention window keeps the captured state)

The definition travels in the input, pinned by its content digest: editing the file changes new runs only.
Everything here is deterministic — CEL is pure, time is `workflow.now()` — and every side effect is an activity:
the same ones campaigns use for restore, and the response activities for reads, captures and writes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from mendflow.actions import ACTIONS
    from mendflow.auth.refusals import refusal_logged
    from mendflow.errors import InputError
    from mendflow.models import Change, Decision, DecisionOutcome, Outcome, ResourceRef, Verdict
    from mendflow.playbooks.model import ApprovalPolicy
    from mendflow.responses.expressions import evaluate
    from mendflow.responses.graph import dependencies, run_order
    from mendflow.responses.inputs import check_inputs
    from mendflow.responses.messages import (
        FINISHED,
        TICKET_HEARTBEAT,
        TICKET_SETTLE,
        CaptureInput,
        ChildWaiting,
        EvidenceInput,
        GateInput,
        NotifyInput,
        NotifyResult,
        ReadInput,
        ResponseInput,
        ResponseStatus,
        Restorable,
        RunState,
        StepRecord,
        StepStatus,
        TicketInput,
        TicketResult,
    )
    from mendflow.responses.model import OnFailure, Step, StepKind, case_label
    from mendflow.responses.progress import branch_owners, skip_reason
    from mendflow.responses.step_failure import StepFailed as StepFailed  # response_fan_out takes it from here
    from mendflow.responses.step_failure import step_scope, step_text, step_value
    from mendflow.routing import Activity
    from mendflow.workflow_types import (
        CampaignPlanDetail,
        ChangeStep,
        EscalationInput,
        OperatorRequest,
        StepOutcome,
    )

CHILD_WAITING = "child_waiting"
"""The signal a called run sends its caller when it starts or stops waiting for a decision."""
CHILD_NOTICE = "response-child-tells-caller"
"""Patch: called runs signal their caller around an approval (runs recorded before did not)."""
SHORT = timedelta(minutes=1)
UNTIL_POLL = timedelta(minutes=1)
"""How often a `wait … until` re-evaluates its condition (it reads `now`, which only moves with time)."""
HOLD = "hold"
"""The signal a paused run sends its running pages and called runs (True: hold before the next step; False: go on)."""
HOLD_CHILDREN = "response-hold-children"
"""Patch: a pause reaches the run's pages and called runs (before, they carried on until they ended)."""
STOP = "stop"
"""The signal a stopping run sends its running called run: end before the next step (the text says why)."""
STOP_CALLED = "response-stop-called-run"
"""Patch: an abort or a rollback reaches a running called run (before, it was released and ran to its end)."""
ChildHandle = workflow.ChildWorkflowHandle[Any, Any]
IDLE = FINISHED | {RunState.awaiting_approval, RunState.paused, RunState.waiting}
OPERATORS_AT_START = "response-operators-at-start"
"""Patch: who may operate a run (pause, abort, rollback) is resolved when it starts, not at its first gate."""
ESCALATES = "response-approval-escalates"
"""Patch: an approve step with `escalate_after` escalates once (runs recorded before only waited for the timeout)."""
OPERATORS_LOCAL = "response-operators-local"
"""Patch: the operators are resolved by a local activity (a marker in the history, no activity task and no second
workflow task: a tenth of a 10-step run's server round trips); runs recorded before used an ordinary activity."""


from .controls import RETRY as RETRY  # noqa: E402 (response_fan_out takes it from here)
from .controls import Controls, cause, restore  # noqa: E402
from .response_fan_out import Answers, ask_and_wait, run_for_each  # noqa: E402 (it needs StepFailed, above)


@workflow.defn(name="ResponseWorkflow")
class ResponseWorkflow(Answers, Controls):
    @workflow.init
    def __init__(self, request: ResponseInput) -> None:
        self._request = request
        definition = request.definition
        self._steps = {step.id: step for step in definition.steps}
        self._deps = dependencies(definition)
        self._branch = branch_owners(definition)
        """Step id → (the if / switch step it is a branch of, the branch's label)."""
        self._records = {step.id: StepRecord(id=step.id, kind=step.kind.value) for step in definition.steps}
        self._state = RunState.running
        self._timeline: list[dict[str, str]] = []
        self._written: list[tuple[str, Change]] = []
        """(step id, change) of reversible writes, registered before each write, in write order."""
        self._gate: CampaignPlanDetail | None = None
        self._gate_step = ""
        self._decisions: list[Decision] = []
        self._verdict: Verdict | None = None
        self._nonces: set[str] = set()
        self._rollback_requested = ""
        self._operators: CampaignPlanDetail | None = None
        """Who may pause, resume, abort and roll back this run (and the keys that sign for them)."""
        self._paused = False
        self._held = False
        """Held by the run that started this one (its caller, or the run whose for_each this page is): paused."""
        self._aborted = ""
        self._rollback_until: datetime | None = None
        self._init_answers()

    # ---- the run ---------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: ResponseInput) -> ResponseStatus:
        self._note("started", f"{request.definition.id} {request.digest}")
        if workflow.patched(OPERATORS_LOCAL):
            self._operators = await self._resolve_operators(local=True)
        elif workflow.patched(OPERATORS_AT_START):
            self._operators = await self._resolve_operators()
        ending = RunState.completed
        for step_id in run_order(request.definition):
            await self._checkpoint()
            if self._stopping():
                break
            failure = await self._run_step(self._steps[step_id])
            if failure is OnFailure.stop:
                ending = RunState.failed
                break
            if failure is OnFailure.rollback:
                self._rollback_requested = f"step {step_id} failed"
                break
        if self._rollback_requested:
            await self._rollback_all(self._rollback_requested)
            ending = RunState.rolled_back
        elif self._aborted:
            ending = RunState.aborted
        self._state = ending
        self._note(ending.value)
        if self._written and request.retention > timedelta(0):
            await self._keep_for_rollback(request.retention)
        return self.status()

    async def _resolve_operators(self, *, local: bool = False) -> CampaignPlanDetail:
        """The run's operators: its first approval policy (or the playbook's default) as the RBAC config resolves
        it, with the worker's trusted keys — so a run with no gate yet, or none at all, can still be stopped.
        `local`: by the worker running this workflow, inside its first workflow task (the keys still come from the
        worker's config, never from the input)."""
        definition = self._request.definition
        policy = next((s.approval for s in definition.steps if s.kind is StepKind.approve), ApprovalPolicy())
        gate = GateInput(
            run_id=self._request.run_id,
            tenant_key=self._request.tenant_key,
            playbook_id=definition.id,
            title=definition.title,
            severity=definition.severity,
            approvers=list(policy.approvers),
            required=policy.required,
            timeout=policy.timeout,
        )
        if local:
            resolved: CampaignPlanDetail = await workflow.execute_local_activity(
                Activity.plan_response_gate,
                gate,
                result_type=CampaignPlanDetail,
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
            return resolved
        plan: CampaignPlanDetail = await workflow.execute_activity(
            Activity.plan_response_gate,
            gate,
            result_type=CampaignPlanDetail,
            task_queue=self._queue(Activity.plan_response_gate),
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        return plan

    async def _checkpoint(self) -> None:
        """Between steps: hold while paused, here or by the calling run (an abort or a rollback request ends the
        hold)."""
        if not self._holding():
            return
        self._state = RunState.paused
        await workflow.wait_condition(lambda: not self._holding())
        self._state = RunState.running

    def _holding(self) -> bool:
        return (self._paused or self._held) and not self._stopping()

    async def _follow(self, children: Sequence[ChildHandle], done: Callable[[], bool]) -> None:
        """Wait for `done()` or a stop; meanwhile pass a pause and the resume on to the running `children` (pages or
        a called run), which hold before their next step meanwhile. A stop returns at once: `stop_items` (pages, from
        their for_each) or `stop` (a called run, from its call step) ends their hold, so none starts another step."""
        told = False
        while not done():
            if self._stopping() and workflow.patched(STOP_CALLED):  # the stop releases them: no "go on" first
                return
            if self._holding() is not told:
                told = self._holding()
                if workflow.patched(HOLD_CHILDREN):
                    for child in children:
                        await self._tell_child(child, HOLD, told)
            if self._stopping():
                return
            await workflow.wait_condition(functools.partial(self._changed, done, told))

    async def _tell_child(self, child: ChildHandle, signal: str, arg: bool | str) -> None:
        try:
            await child.signal(signal, arg)
        except Exception as err:  # it has just ended (its result is on its way): nothing left to hold or stop
            workflow.logger.warning("could not send %s(%r) to %s: %s", signal, arg, child.id, err)

    def _changed(self, done: Callable[[], bool], told: bool) -> bool:
        return done() or self._stopping() or self._holding() is not told

    @workflow.signal(name=HOLD)
    def hold(self, held: bool) -> None:
        """The run that started this one is paused (True) or resumed (False): hold before the next step, or go on."""
        self._held = held

    @workflow.signal(name=STOP)
    def stop(self, reason: str) -> None:
        """The calling run is aborting or rolling back: end before the next step, as an abort does. Completed
        changes stay here and join the caller's, which restores them with its own when it rolls back."""
        if not self._stopping():
            self._aborted = reason
            self._note(reason)

    def _stopping(self) -> bool:
        return bool(self._rollback_requested or self._aborted)

    async def _keep_for_rollback(self, retention: timedelta) -> None:
        """After the end: keep the captured state and listen for `rollback` until the retention window closes."""
        self._rollback_until = workflow.now() + retention
        self._note("rollback state kept", f"{len(self._written)} change(s) restorable for {retention}")
        try:
            await workflow.wait_condition(lambda: bool(self._rollback_requested), timeout=retention)
        except TimeoutError:
            self._rollback_until = None
            self._note("retention ended", "rollback state released")
            return
        self._rollback_until = None
        await self._rollback_all(self._rollback_requested)
        self._state = RunState.rolled_back
        self._note(RunState.rolled_back.value)

    async def _run_step(self, step: Step) -> OnFailure | None:
        """Run one step; the step's `on_failure` when it failed, else None."""
        reason = self._skip_reason(step)
        if reason:
            self._set(step.id, status=StepStatus.skipped, detail=reason, finished=True)
            return None
        self._set(step.id, status=StepStatus.running, started=True)
        try:
            status, output, detail = await self._dispatch(step)
        except StepFailed as failed:
            self._set(step.id, status=StepStatus.failed, detail=str(failed), finished=True)
            self._note(f"{step.id} failed", str(failed))
            return step.on_failure
        self._set(step.id, status=status, output=output, detail=detail, finished=True)
        self._note(f"{step.id} {status.value}", detail)
        return None

    def _skip_reason(self, step: Step) -> str:
        """Why the step does not run, or an empty string (the rule is shared with rehearsals: responses.progress)."""
        return skip_reason(
            step,
            steps=self._steps,
            deps=self._deps,
            owners=self._branch,
            status={sid: record.status for sid, record in self._records.items()},
            output={sid: record.output for sid, record in self._records.items()},
            evaluate=lambda source: evaluate(source, self._scope()),
        )

    async def _dispatch(self, step: Step) -> tuple[StepStatus, dict[str, Any], str]:
        if step.kind is StepKind.read:
            return await self._read(step)
        if step.kind is StepKind.action:
            return await self._action(step)
        if step.kind is StepKind.approve:
            return await self._approve(step)
        if step.kind is StepKind.notify:
            return await self._notify(step)
        if step.kind is StepKind.snapshot:
            return await self._snapshot(step)
        if step.kind is StepKind.wait:
            return await self._wait(step)
        if step.kind is StepKind.for_each:
            return await run_for_each(self, step)
        if step.kind is StepKind.if_:
            value = self._value(step.condition or "", "condition")
            if not isinstance(value, bool):
                raise StepFailed(f"condition returned {value!r}, not a bool")
            return StepStatus.done, {"value": value}, f"{'then' if value else 'else'} branch"
        if step.kind is StepKind.switch:
            return self._switch(step)
        if step.kind is StepKind.ticket:
            return await self._ticket(step)
        if step.kind is StepKind.call:
            return await self._call(step)
        raise StepFailed(f"step kind {step.kind.value} is not yet supported")  # the loader refuses these

    # ---- step kinds ------------------------------------------------------------------------------------------

    async def _read(self, step: Step) -> tuple[StepStatus, dict[str, Any], str]:
        path = self._text(step.target or "", "target")
        body = await self._activity(
            step, Activity.read_resource, ReadInput(tenant_key=self._request.tenant_key, path=path), dict
        )
        return StepStatus.done, body, path

    async def _action(self, step: Step) -> tuple[StepStatus, dict[str, Any], str]:
        assert step.action is not None
        spec = ACTIONS[step.action]
        resource = ResourceRef(type=spec.resource_type, id=self._text(step.target or "", "target"))
        capture = CaptureInput(
            tenant_key=self._request.tenant_key,
            playbook_id=self._request.definition.id,
            resource=resource,
            action=spec.name,
            params=dict(step.with_ or {}),
        )
        change: Change = await self._activity(step, Activity.capture_response_step, capture, Change)
        if spec.reversible:  # registered before the write: a crash mid-apply is still rolled back
            self._written.append((step.id, change))
        result: StepOutcome = await self._activity(
            step, Activity.apply_response_step, self._change_step(change), StepOutcome, fail=False
        )
        change = change.model_copy(update={"outcome": result.outcome, "detail": result.detail})
        if result.outcome is not Outcome.verified:
            if spec.reversible:
                self._written.pop()
                restored = await self._restore(change, reason=result.detail)
                raise StepFailed(f"{result.detail}; {restored.outcome.value}")
            raise StepFailed(result.detail)
        if spec.reversible:
            self._written[-1] = (step.id, change)
        output = change.model_dump(mode="json", include={"resource", "before", "after", "outcome", "detail"})
        return StepStatus.done, output, f"{spec.name} {resource.id}: {change.before} → {change.after}"

    async def _approve(self, step: Step) -> tuple[StepStatus, dict[str, Any], str]:
        definition = self._request.definition
        policy = step.approval
        gate = GateInput(
            run_id=self._request.run_id,
            tenant_key=self._request.tenant_key,
            playbook_id=definition.id,
            title=self._text(step.message, "message") if step.message else definition.title,
            severity=definition.severity,
            approvers=list(policy.approvers),
            required=policy.required,
            timeout=policy.timeout,
            escalate_after=policy.escalate_after,
            escalate_to=policy.escalate_to,
        )
        plan: CampaignPlanDetail = await self._activity(step, Activity.plan_response_gate, gate, CampaignPlanDetail)
        self._gate, self._gate_step, self._decisions, self._verdict = plan, step.id, [], None
        waiting_for = f"{plan.required_approvals} of {', '.join(plan.approvers)}"
        self._set(step.id, status=StepStatus.waiting, detail=f"waiting for {waiting_for}: {plan.title}")
        self._state = RunState.awaiting_approval
        await self._tell_caller(f"{step.id}: {waiting_for}")
        escalate_after = (
            plan.escalate_after if plan.escalate_after is not None and workflow.patched(ESCALATES) else None
        )
        try:
            await self._decision_within(
                lambda: self._verdict is not None or self._stopping(),
                within=plan.approval_timeout,
                escalate_after=escalate_after,
                escalation=functools.partial(self._escalation, step.id, plan),
            )
        finally:
            self._state = RunState.running
            self._gate_step = ""
        await self._tell_caller("")
        approvers = [d.approver for d in self._decisions if d.verdict is Verdict.approve]
        reason = "; ".join(d.reason for d in self._decisions if d.reason)
        output = {"approved": self._verdict is Verdict.approve, "approvers": approvers, "reason": reason}
        if self._verdict is Verdict.approve:
            return StepStatus.approved, output, f"by {', '.join(approvers)}"
        if self._verdict is Verdict.reject:
            return StepStatus.rejected, output, reason
        if self._stopping():
            return StepStatus.skipped, output, self._cut_short()
        return StepStatus.expired, output, f"no decision within {plan.approval_timeout}; treated as a rejection"

    def _escalation(self, step_id: str, plan: CampaignPlanDetail, waited: timedelta) -> EscalationInput:
        """What the approve step `step_id` sends when still undecided after `escalate_after`; its record says so."""
        to = plan.escalate_to or "the escalation contact"
        self._set(step_id, status=StepStatus.waiting, detail=f"{self._records[step_id].detail} (escalated to {to})")
        return EscalationInput(
            campaign_id=workflow.info().workflow_id,  # what a decision is sent to
            playbook_id=plan.playbook_id,
            escalate_to=plan.escalate_to,
            waited=waited,
            step_id=step_id,
        )

    async def _notify(self, step: Step) -> tuple[StepStatus, dict[str, Any], str]:
        text = self._text(step.message or "", "message")
        channel = self._text(step.channel, "channel") if step.channel else None
        request = NotifyInput(playbook_id=self._request.definition.id, channel=channel, text=text)
        sent: NotifyResult = await self._activity(step, Activity.notify_response, request, NotifyResult)
        output = {"delivered": sent.delivered, "channel": sent.channel, "text": text}
        return StepStatus.done, output, sent.detail or f"to {sent.channel}"

    async def _snapshot(self, step: Step) -> tuple[StepStatus, dict[str, Any], str]:
        values = {name: self._value(source, f"of.{name}") for name, source in (step.of or {}).items()}
        request = EvidenceInput(run_id=self._request.run_id, step_id=step.id, values=values)
        digest: str = await self._activity(step, Activity.store_evidence, request, str)
        return StepStatus.done, {"digest": digest, "count": len(values)}, digest

    async def _wait(self, step: Step) -> tuple[StepStatus, dict[str, Any], str]:
        if step.answer is not None:
            return await ask_and_wait(self, step, self._question_id(step))
        self._set(step.id, status=StepStatus.waiting, detail="waiting")
        if step.duration is not None:
            if await self._sleep(step.duration):
                return StepStatus.skipped, {"timed_out": False}, self._cut_short()
            return StepStatus.done, {"timed_out": False}, f"waited {step.duration}"
        deadline = workflow.now() + step.timeout
        while self._value(step.until or "", "until") is not True:
            left = deadline - workflow.now()
            if left <= timedelta(0):
                return StepStatus.done, {"timed_out": True}, f"until did not hold within {step.timeout}"
            if await self._sleep(min(left, UNTIL_POLL)):
                return StepStatus.skipped, {"timed_out": False}, self._cut_short()
        return StepStatus.done, {"timed_out": False}, "until holds"

    async def _sleep(self, duration: timedelta) -> bool:
        """A durable timer a rollback request or an abort cuts short; True when one did."""
        try:
            await workflow.wait_condition(self._stopping, timeout=duration)
        except TimeoutError:
            return False
        return True

    def _question_id(self, step: Step) -> str:
        """How a question is named in answers: the step's id (a for_each page adds the item's index)."""
        return step.id

    def _cut_short(self) -> str:
        return f"{self._stop_reason()} while waiting"

    def _stop_reason(self) -> str:
        return "rollback requested" if self._rollback_requested else "aborted"

    def _switch(self, step: Step) -> tuple[StepStatus, dict[str, Any], str]:
        value = self._value(step.on_ or "", "on")
        if not isinstance(value, (str, int, float, bool)):
            raise StepFailed(f"on returned {value!r}, not a string, number or bool")
        label = case_label(value)
        case = label if label in (step.cases or {}) else "default"
        return StepStatus.done, {"value": value, "case": case}, f"{case!r} case" if case != "default" else "default"

    async def _ticket(self, step: Step) -> tuple[StepStatus, dict[str, Any], str]:
        spec = step.jira
        assert spec is not None
        definition = self._request.definition

        def text(template: str | None, what: str) -> str | None:
            return None if template is None else self._text(template, f"jira.{what}")

        extra = f"\n\nTimeline of {self._request.run_id}:\n{self._timeline_text()}" if spec.timeline else ""
        description, comment = text(spec.description, "description"), text(spec.comment, "comment")
        request = TicketInput(
            step_id=step.id,
            playbook_id=definition.id,
            severity=definition.severity,
            project=spec.project,
            issue_type=spec.issue_type,
            summary=text(spec.summary, "summary"),
            description=(description or "") + (extra if spec.summary is not None else ""),
            labels=spec.labels,
            key=text(spec.key, "key"),
            comment=None if comment is None else comment + extra,
            transition=spec.transition,
            timeout=step.timeout,
        )
        if request.key == "":
            return StepStatus.skipped, {"key": "", "url": ""}, "no issue to change (none was created)"
        # The try enforces the step's timeout itself and never abandons a Jira call in flight (a late issue is kept
        # for the next try); Temporal's start-to-close only catches a try whose worker stopped answering.
        result: TicketResult = await self._activity(
            step, Activity.ticket_response, request, TicketResult, settle=TICKET_SETTLE, heartbeat=TICKET_HEARTBEAT
        )
        return StepStatus.done, {"key": result.key, "url": result.url}, result.detail

    async def _call(self, step: Step) -> tuple[StepStatus, dict[str, Any], str]:
        """Run the called workflow as a child (pinned at this run's start) and take its steps' outputs. The child's
        completed reversible changes join this run's, so rolling this run back restores them too."""
        pinned = self._request.children.get(step.playbook or "")
        if pinned is None:
            raise StepFailed(
                f"workflow {step.playbook!r} was not pinned when this run started (start it with its file)"
            )
        given = {name: self._value(source, f"inputs.{name}") for name, source in (step.inputs or {}).items()}
        try:
            inputs = check_inputs(pinned.definition.inputs, given)
        except InputError as err:
            raise StepFailed(f"{pinned.definition.id}: {err}") from None
        child_id = f"{self._request.run_id}/{step.id}"
        child = ResponseInput(
            run_id=child_id,
            tenant_key=self._request.tenant_key,
            definition=pinned.definition,
            digest=pinned.digest,
            inputs=inputs,
            requested_by=self._request.requested_by,
            children=self._request.children,
        )
        self._set(step.id, status=StepStatus.running, detail=f"child run {child_id}")
        try:
            handle = await workflow.start_child_workflow(
                "ResponseWorkflow",
                child,
                id=child_id,
                result_type=ResponseStatus,
                task_queue=workflow.info().task_queue,
            )
            await self._follow([handle], handle.done)
            if self._stopping() and not handle.done() and workflow.patched(STOP_CALLED):
                await self._tell_child(handle, STOP, f"stopped by the calling run: {self._stop_reason()}")
            status: ResponseStatus = await handle
        except ChildWorkflowError as err:
            raise StepFailed(f"child run {child_id} failed: {cause(err)}") from None
        for kept in reversed(status.restorable):  # newest first there; registered oldest first here
            resource = ResourceRef(type=ACTIONS[kept.action].resource_type, id=kept.resource)
            change = Change(resource=resource, action=kept.action, before=kept.before or {}, after=kept.after or {})
            self._written.append((step.id, change.model_copy(update={"outcome": Outcome.verified})))
        output = {"run_id": child_id, "state": status.state.value, "steps": {s.id: s.output for s in status.steps}}
        if status.state is RunState.aborted and self._stopping():  # stopped with this run: not a failure
            return StepStatus.skipped, output, f"child run {child_id} stopped: {self._stop_reason()}"
        if status.state is not RunState.completed:
            raise StepFailed(f"child run {child_id} ended {status.state.value}")
        return StepStatus.done, output, f"{pinned.definition.id} {status.state.value} ({child_id})"

    async def _tell_caller(self, waiting: str) -> None:
        """A called run tells its caller when it starts or stops waiting for a decision, so the caller's status (and
        `wait_idle`, which `mendflow run --wait` uses) shows it; a run nobody called does nothing."""
        parent = workflow.info().parent
        if parent is None or not self._request.run_id.startswith(parent.workflow_id + "/"):
            return
        if not workflow.patched(CHILD_NOTICE):
            return
        note = ChildWaiting(run_id=self._request.run_id, waiting=waiting)
        try:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(CHILD_WAITING, note)
        except Exception as err:  # the caller is gone (cancelled, terminated): nobody to tell
            workflow.logger.warning("could not tell the calling run %s: %s", parent.workflow_id, err)

    @workflow.signal(name=CHILD_WAITING)
    def child_waiting(self, note: ChildWaiting) -> None:
        """A called run waits for a decision (or no longer does): the call step and the run show it."""
        step_id = note.run_id.removeprefix(self._request.run_id + "/")
        record = self._records.get(step_id)
        if record is None or record.status not in (StepStatus.running, StepStatus.waiting):
            return
        if note.waiting:
            detail = f"child run {note.run_id} waits for a decision ({note.waiting}); decide on the child run"
            self._set(step_id, status=StepStatus.waiting, detail=detail)
            self._state = RunState.awaiting_approval
        else:
            self._set(step_id, status=StepStatus.running, detail=f"child run {note.run_id}")
            if self._state is RunState.awaiting_approval:
                self._state = RunState.running

    def _timeline_text(self) -> str:
        """The steps so far, one line each: when, which, how it ended and why (for a ticket's text)."""
        lines = []
        for record in self._records.values():
            if record.started_at is None or record.status in (StepStatus.pending, StepStatus.running):
                continue
            at = record.started_at.strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{at} {record.id} ({record.kind}): {record.status.value} {record.detail}".rstrip())
        return "\n".join(lines) or "(no step has finished yet)"

    # ---- rollback --------------------------------------------------------------------------------------------

    async def _rollback_all(self, reason: str) -> None:
        """Restore every completed reversible change, newest first; a failing restore is recorded, we carry on."""
        self._state = RunState.rolling_back
        self._note("rolling back", reason)
        while self._written:
            step_id, change = self._written.pop()
            restored = await self._restore(change, reason=reason)
            status = StepStatus.rolled_back if restored.outcome is Outcome.restored else StepStatus.restore_failed
            self._set(step_id, status=status, detail=restored.detail)

    async def _restore(self, change: Change, *, reason: str) -> Change:
        queue = self._queue(Activity.restore_change)
        restored = await restore(change, self._change_step(change), queue=queue, within=SHORT)
        self._note(restored.outcome.value, f"{change.resource.id} ({reason})")
        return restored

    # ---- helpers ---------------------------------------------------------------------------------------------

    async def _activity(
        self,
        step: Step,
        activity: Activity,
        arg: Any,
        result_type: Any,
        *,
        fail: bool = True,
        settle: timedelta = timedelta(0),
        heartbeat: timedelta | None = None,
    ) -> Any:
        try:
            return await workflow.execute_activity(
                activity,
                arg,
                result_type=result_type,
                task_queue=self._queue(activity),
                start_to_close_timeout=step.timeout + settle,
                heartbeat_timeout=heartbeat,
                retry_policy=RetryPolicy(
                    initial_interval=step.retry.backoff,
                    maximum_interval=max(step.retry.backoff, timedelta(minutes=1)),
                    maximum_attempts=step.retry.attempts,
                ),
            )
        except ActivityError as err:
            if not fail:
                return StepOutcome(outcome=Outcome.failed, detail=cause(err))
            raise StepFailed(cause(err)) from None

    def _change_step(self, change: Change) -> ChangeStep:
        return ChangeStep(
            tenant_key=self._request.tenant_key,
            playbook_id=self._request.definition.id,
            resource=change.resource,
            change=change,
        )

    def _scope(self) -> dict[str, Any]:
        return step_scope(self._request.inputs, self._records, workflow.now())

    def _value(self, source: str, what: str) -> Any:
        return step_value(source, self._scope(), what)

    def _text(self, template: str, what: str) -> str:
        return step_text(template, self._scope(), what)

    def _set(
        self,
        step_id: str,
        *,
        status: StepStatus,
        detail: str = "",
        output: dict[str, Any] | None = None,
        started: bool = False,
        finished: bool = False,
    ) -> None:
        update: dict[str, Any] = {"status": status, "detail": detail}
        if output is not None:
            update["output"] = output
        if started:
            update["started_at"] = workflow.now()
        if finished:
            update["finished_at"] = workflow.now()
        self._records[step_id] = self._records[step_id].model_copy(update=update)

    def _note(self, event: str, detail: str = "") -> None:
        self._timeline.append({"at": workflow.now().isoformat(), "event": event, "detail": detail})

    # ---- decisions, operator requests, queries ---------------------------------------------------------------

    @workflow.update
    def decide(self, decision: Decision) -> DecisionOutcome:
        """Approve or reject the approval step waiting now (validated first: the campaigns' own checks)."""
        assert self._gate is not None
        step = self._gate_step
        return self._decided(
            decision,
            required=self._gate.required_approvals,
            where=step,
            rejected=f"{step} rejected",
            approved=f"{step} approved",
            waiting="waiting",
        )

    @decide.validator
    @refusal_logged("decide")
    def _validate_decision(self, decision: Decision) -> None:
        if self._gate is None or not self._gate_step:
            raise ValueError(f"the run is not waiting for an approval (state: {self._state.value})")
        self._check_decision(decision, plan=self._gate, awaiting=self._verdict is None, by=self._request.requested_by)

    @workflow.update
    def rollback(self, request: OperatorRequest) -> str:
        """Stop after the current step (or, after the end, within the retention window) and restore every completed
        reversible change, newest first."""
        self._used(request)
        self._rollback_requested = f"rollback requested by {request.operator}: {request.reason}".rstrip(": ")
        self._note(f"rollback requested by {request.operator}", request.reason)
        return "rollback starts after the current step: captured prior state is restored, newest change first"

    @rollback.validator
    @refusal_logged("rollback")
    def _validate_rollback(self, request: OperatorRequest) -> None:
        self._check_operator(request, "rollback")
        if self._state is RunState.rolling_back or self._rollback_requested:
            raise ValueError(f"a rollback is already under way (state: {self._state.value})")
        if self._state in FINISHED and self._rollback_until is None:
            raise ValueError(
                f"the run has ended ({self._state.value}) and keeps no rollback state: "
                + ("nothing it changed can be undone" if self._state is not RunState.rolled_back else "rolled back")
            )

    PAUSED = "paused: the run holds before its next step (a step under way finishes first)"

    def _state_text(self) -> str:
        return self._state.value

    def _pausable(self) -> bool:
        return self._state not in FINISHED and not self._stopping()

    @workflow.update
    def abort(self, request: OperatorRequest) -> str:
        """End the run before its next step; completed changes stay (a rollback can still restore them)."""
        self._used(request)
        self._aborted = f"aborted by {request.operator}"
        self._note(self._aborted, request.reason)
        return "aborted: no further step runs; completed changes stay unless rolled back"

    @abort.validator
    @refusal_logged("abort")
    def _validate_abort(self, request: OperatorRequest) -> None:
        self._check_operator(request, "abort")
        if self._state in FINISHED or self._stopping():
            raise ValueError(f"nothing to abort (state: {self._state.value})")

    def _operator_plan(self) -> CampaignPlanDetail:
        plan = self._operators or self._gate  # runs started before operators were resolved at start: the gate's
        if plan is None:
            raise ValueError("nobody may operate this run yet: its operators are being resolved; try again shortly")
        return plan

    @workflow.update(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def wait_idle(self) -> ResponseStatus:
        """Returns once nothing moves without a person: awaiting approval, or finished."""
        await workflow.wait_condition(lambda: self._state in IDLE)
        return self.status()

    @workflow.query
    def status(self) -> ResponseStatus:
        return ResponseStatus(
            run_id=self._request.run_id,
            playbook_id=self._request.definition.id,
            digest=self._request.digest,
            state=self._state,
            steps=[self._records[step.id] for step in self._request.definition.steps],
            decisions=list(self._decisions),
            timeline=list(self._timeline),
            paused=self._paused or self._held,
            restorable=[
                Restorable(
                    step_id=step_id,
                    action=change.action,
                    resource=change.resource.id,
                    before=change.before,
                    after=change.after,
                )
                for step_id, change in reversed(self._written)
            ],
            rollback_until=self._rollback_until,
        )
