"""The approval and operator machinery campaigns and response runs share (mixed into both workflows).

    decide ─> validated (proof, then RBAC and four-eyes) ─> proof nonce used ─> stamped, recorded, noted
        ─> a reject ends the gate; enough distinct approvers approve it; else "N more needed"
    pause / resume ─> validated (proof, then RBAC: `mendflow.auth.policy`) ─> the run holds before its next
        step (campaigns: resource) / carries on
    awaiting a decision ─> durable wait ─> still undecided after `escalate_after`: escalate once (a failed delivery
        is noted, the wait goes on) ─> wait again ─> the timeout: expired

One implementation of each path (issue 13): what differs between the workflows — which plan the operators come
from, what a state is called, when a pause no longer makes sense, the note's wording — is asked of the workflow.
Handlers and validators issue no commands, so moving them here changes no history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import ClassVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from mendflow.auth.policy import check_decision, check_operator, nonce_of
    from mendflow.auth.refusals import refusal_logged
    from mendflow.models import Change, Decision, DecisionOutcome, Outcome, Verdict
    from mendflow.routing import Activity, queue_of
    from mendflow.workflow_types import CampaignPlanDetail, ChangeStep, EscalationInput, OperatorRequest

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5)
"""The retry of an activity both workflows run (a restore, a capture, a write): five tries, backing off to 30 s."""
ESCALATION_TRY = timedelta(minutes=1)
"""One try of the escalation activity (a single Slack post)."""


class Controls:
    """`pause` and `resume`, the operator check, and the bookkeeping of a decision (mixed into the workflows)."""

    PAUSED: ClassVar[str]
    """What a pause answers: where the run holds."""
    _nonces: set[str]
    _paused: bool
    _decisions: list[Decision]
    _verdict: Verdict | None

    def _note(self, event: str, detail: str = "") -> None:
        raise NotImplementedError

    def _state_text(self) -> str:
        """The state, as a refusal names it."""
        raise NotImplementedError

    def _pausable(self) -> bool:
        """False once the run has finished or is stopping (no next step to hold before)."""
        raise NotImplementedError

    def _operator_plan(self) -> CampaignPlanDetail | None:
        """Who may operate this run (RBAC)."""
        raise NotImplementedError

    def _check_decision(self, decision: Decision, *, plan: CampaignPlanDetail | None, awaiting: bool, by: str) -> None:
        """The API's proof first, then RBAC and four-eyes on the identity inside it (`mendflow.auth.policy`); `by`
        is who requested the run."""
        check_decision(
            decision,
            workflow_id=workflow.info().workflow_id,
            plan=plan,
            awaiting=awaiting,
            state=self._state_text(),
            requested_by=by,
            decisions=self._decisions,
            nonces=self._nonces,
            now=workflow.now(),
        )

    def _queue(self, activity: Activity) -> str:
        return queue_of(workflow.info().task_queue, activity)

    def _used(self, request: Decision | OperatorRequest) -> None:
        """Spend the proof's nonce: a signed request is accepted once."""
        if request.proof is not None:
            self._nonces.add(nonce_of(request.proof.claims))

    def _check_operator(self, request: OperatorRequest, verb: str) -> None:
        """The signed request's proof, then RBAC against this run's operators (the campaigns' own check)."""
        check_operator(
            request, verb=verb, workflow_id=workflow.info().workflow_id, plan=self._operator_plan(),
            nonces=self._nonces, now=workflow.now(),
        )  # fmt: skip

    def _decided(
        self, decision: Decision, *, required: int, where: str, rejected: str, approved: str, waiting: str
    ) -> DecisionOutcome:
        """Record a validated decision and settle the verdict once a reject or `required` distinct approvals came.

        `where` leads the note's detail; `rejected`/`approved` are the answers then; `waiting` the state while
        more approvers are needed."""
        self._used(decision)
        decision = decision.model_copy(update={"at": workflow.now()})
        self._decisions.append(decision)
        self._note(f"{decision.verdict.value}d by {decision.approver}", f"{where}: {decision.reason}")
        if decision.verdict is Verdict.reject:
            self._verdict = Verdict.reject
            return DecisionOutcome(accepted=True, message=rejected, state="rejected")
        approvals = len({d.approver for d in self._decisions if d.verdict is Verdict.approve})
        if approvals >= required:
            self._verdict = Verdict.approve
            return DecisionOutcome(accepted=True, message=approved, state="approved")
        return DecisionOutcome(
            accepted=True,
            message=f"approval recorded; {required - approvals} more distinct approver(s) needed",
            state=waiting,
        )

    async def _decision_within(
        self,
        decided: Callable[[], bool],
        *,
        within: timedelta,
        escalate_after: timedelta | None,
        escalation: Callable[[timedelta], EscalationInput],
    ) -> bool:
        """Wait until `decided()`, escalating once when still undecided `escalate_after` into the wait; False when
        `within` passed first. `escalation(waited)` is what to send. Without `escalate_after` this is one durable
        wait of `within` (the commands of a plain `wait_condition`, so such histories replay unchanged)."""
        started = workflow.now()
        deadline = started + within
        escalate_at = None if escalate_after is None else started + escalate_after
        while not decided():
            now = workflow.now()
            if now >= deadline:
                return False
            wait = deadline - now
            if escalate_at is not None:
                wait = min(wait, max(escalate_at - now, timedelta(0)))
            try:
                await workflow.wait_condition(decided, timeout=wait)
            except TimeoutError:
                if escalate_at is not None and workflow.now() >= escalate_at:
                    escalate_at = None
                    await self._escalate_once(escalation(workflow.now() - started))
        return True

    async def _escalate_once(self, request: EscalationInput) -> None:
        """Tell the escalation contact (the `escalate_campaign` activity); a delivery that fails for good is noted
        and the wait goes on: telling someone must not end the approval."""
        self._note("escalated", f"to {request.escalate_to or 'the escalation contact'} after {request.waited}")
        try:
            await workflow.execute_activity(
                Activity.escalate_campaign,
                request,
                task_queue=self._queue(Activity.escalate_campaign),
                start_to_close_timeout=ESCALATION_TRY,
                retry_policy=RETRY,
            )
        except ActivityError as err:
            self._note("escalation could not be delivered", cause(err))

    @workflow.update
    def pause(self, request: OperatorRequest) -> str:
        """Hold the run before its next step (a step under way finishes first)."""
        self._used(request)
        self._paused = True
        self._note(f"paused by {request.operator}", request.reason)
        return self.PAUSED

    @pause.validator
    @refusal_logged("pause")
    def _validate_pause(self, request: OperatorRequest) -> None:
        self._check_operator(request, "pause")
        if self._paused:
            raise ValueError("already paused")
        if not self._pausable():
            raise ValueError(f"nothing to pause (state: {self._state_text()})")

    @workflow.update
    def resume(self, request: OperatorRequest) -> str:
        """Carry on from where the run was held."""
        self._used(request)
        self._paused = False
        self._note(f"resumed by {request.operator}", request.reason)
        return "resumed"

    @resume.validator
    @refusal_logged("resume")
    def _validate_resume(self, request: OperatorRequest) -> None:
        self._check_operator(request, "resume")
        if not self._paused:
            raise ValueError(f"not paused (state: {self._state_text()})")


async def restore(
    change: Change, step: ChangeStep, *, queue: str, within: timedelta, heartbeat: timedelta | None = None
) -> Change:
    """Put one change back through the `restore_change` activity (which verifies the restore); `within` is each
    try's start-to-close timeout. Shielded: cancelling the run must not cancel putting things back. A restore that
    fails for good comes back as `restore_failed` with its cause, never as an exception: a rollback records it and
    carries on."""
    try:
        restored: Change = await asyncio.shield(
            asyncio.ensure_future(
                workflow.execute_activity(
                    Activity.restore_change,
                    step,
                    result_type=Change,
                    task_queue=queue,
                    start_to_close_timeout=within,
                    heartbeat_timeout=heartbeat,
                    retry_policy=RETRY,
                )
            )
        )
    except ActivityError as err:
        restored = change.model_copy(
            update={"outcome": Outcome.restore_failed, "detail": f"restore failed: {cause(err)}"}
        )
    return restored


def cause(err: BaseException) -> str:
    """The innermost cause's text: what an activity or child run actually failed on."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)
