"""RemediationWorkflow: one campaign = one playbook's findings in one tenant from one scan.

    plan ─> approval gate? (escalate, expire) ─> change window ─> capture every target (fresh re-read)
        ─> canary ─> verify ─> bake ─> next batch … ─> settle ─> keep rollback state for the retention window
    on failures > max_failures, abort+rollback, or a `rollback` request: restore newest first, verify each restore.

Decisions and operator controls are Temporal updates with validators, so a caller learns at once whether its
request counted; a refused request changes nothing and is not written to history.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    # Verifying a proof is pure and deterministic; `cryptography` cannot be imported inside the sandbox.
    from mendflow.auth.policy import check_decision, check_operator, nonce_of
    from mendflow.findings_store import FindingStatus
    from mendflow.models import Change, Decision, DecisionOutcome, Outcome, ResourceRef, Verdict
    from mendflow.rollout import split_batches
    from mendflow.workflow_types import (
        CampaignPlanDetail,
        CampaignStatus,
        ChangeStep,
        EscalationInput,
        OperatorRequest,
        PublishInput,
        PublishRefs,
        RemediationInput,
        RemediationResult,
        SettleInput,
        WindowInput,
        WindowVerdict,
    )

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5)
SHORT = timedelta(minutes=1)
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=8
)

# States in which nothing moves without a person (or the end of a timer).
IDLE = {
    "awaiting_approval",
    "completed",
    "completed_with_failures",
    "rolled_back",
    "rejected",
    "expired",
    "aborted",
    "nothing_to_do",
    "notify_only",
    "paused",
}
DECIDED = {"rejected", "expired"}

_LEDGER = {
    Outcome.verified: FindingStatus.resolved,
    Outcome.skipped: FindingStatus.resolved,
    Outcome.restored: FindingStatus.rolled_back,
    Outcome.planned: FindingStatus.open,
}


@workflow.defn(name="RemediationWorkflow")
class RemediationWorkflow:
    @workflow.init
    def __init__(self, request: RemediationInput) -> None:
        self._request = request
        self._plan: CampaignPlanDetail | None = None
        self._state = "planning"
        self._changes: dict[str, Change] = {}
        self._order: list[str] = []
        """Fingerprints in the order their resources were written (rollback runs it backwards)."""
        self._decisions: list[Decision] = []
        self._verdict: Verdict | None = None
        self._rollback_votes: list[Decision] = []
        self._timeline: list[dict[str, str]] = []
        self._paused = False
        self._aborted = False
        self._escalated = False
        self._batch = 0
        self._batches_total = 0
        self._writes: list[float] = []
        self._refs = PublishRefs()
        self._published = 0
        """Number of timeline events already published (the card and ticket catch up from here)."""
        self._publisher_done = False
        self._nonces: set[str] = set()
        """Nonces of the signed requests already accepted: a replayed proof is refused."""

    # ---- the campaign ----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: RemediationInput) -> RemediationResult:
        publisher = asyncio.ensure_future(self._publisher())
        try:
            result = await self._campaign(request)
        except BaseException:
            publisher.cancel()  # never await in a finally: eviction from the worker cache must not block
            raise
        self._publisher_done = True
        await publisher  # the card and ticket show the final state before the campaign closes
        return result

    async def _publisher(self) -> None:
        """Keep the Slack card and Jira ticket in step with the campaign, without ever holding it up.

        Runs beside the campaign: it publishes the latest status whenever the timeline grew. If Slack or Jira is
        down, the activity retries with backoff and the campaign goes on; the card catches up when they are back.
        """
        while True:
            await workflow.wait_condition(lambda: self._published < len(self._timeline) or self._publisher_done)
            if self._published >= len(self._timeline):
                return
            if self._plan is None or self._plan.mode == "notify":
                self._published = len(self._timeline)
                continue
            upto = len(self._timeline)
            event = "; ".join(f"{e['event']} {e['detail']}".strip() for e in self._timeline[self._published : upto])
            try:
                self._refs = await workflow.execute_activity(
                    "publish_campaign",
                    PublishInput(status=self.status(), refs=self._refs, event=event),
                    result_type=PublishRefs,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=PUBLISH_RETRY,
                )
            except ActivityError as err:
                workflow.logger.warning("publishing the campaign failed", extra={"error": _cause(err)})
            self._published = upto

    async def _campaign(self, request: RemediationInput) -> RemediationResult:
        self._plan = plan = await workflow.execute_activity(
            "plan_campaign", request, result_type=CampaignPlanDetail, start_to_close_timeout=SHORT, retry_policy=RETRY
        )
        self._note("planned", f"{len(plan.targets)} target(s), mode {plan.mode}")
        if not plan.targets:
            return await self._finish("nothing_to_do")
        if plan.mode == "notify":
            return await self._finish("notify_only")
        if plan.mode in ("approval", "ticket") and not await self._approved(plan):
            return await self._finish(self._state)
        await self._rollout(plan)
        await self._settle()
        if any(c.outcome in (Outcome.verified, Outcome.failed) for c in self._changes.values()):
            self._note("rollback state kept", f"for {request.retention}")
            try:
                await workflow.wait_condition(lambda: self._rollback_requested(), timeout=request.retention)
            except TimeoutError:
                self._note("retention ended", "rollback state released")
            else:
                await self._rollback_all("rollback requested")
                self._state = "rolled_back"
                await self._settle()
        return self._result()

    async def _approved(self, plan: CampaignPlanDetail) -> bool:
        """Wait for enough approvals or a rejection; escalate once; expire at the timeout (nothing changes)."""
        self._state = "awaiting_approval"
        started = workflow.now()
        deadline = started + plan.approval_timeout
        while self._verdict is None:
            now = workflow.now()
            if now >= deadline:
                self._state = "expired"
                self._note("expired", f"no decision within {plan.approval_timeout}; nothing was changed")
                return False
            wait = deadline - now
            escalate_at = started + plan.escalate_after if plan.escalate_after is not None else None
            if escalate_at is not None and not self._escalated:
                wait = min(wait, max(escalate_at - now, timedelta(0)))
            try:
                await workflow.wait_condition(lambda: self._verdict is not None, timeout=wait)
            except TimeoutError:
                if escalate_at is not None and not self._escalated and workflow.now() >= escalate_at:
                    await self._escalate(plan, workflow.now() - started)
        if self._aborted:
            self._state = "aborted"
            return False
        if self._verdict is Verdict.reject:
            self._state = "rejected"
            return False
        self._state = "approved"
        return True

    async def _escalate(self, plan: CampaignPlanDetail, waited: timedelta) -> None:
        self._escalated = True
        self._note("escalated", f"to {plan.escalate_to or 'the escalation contact'} after {waited}")
        try:
            await workflow.execute_activity(
                "escalate_campaign",
                EscalationInput(
                    campaign_id=plan.campaign_id,
                    playbook_id=plan.playbook_id,
                    escalate_to=plan.escalate_to,
                    waited=waited,
                ),
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
        except ActivityError as err:  # telling someone failed: the gate itself goes on, and says so
            self._note("escalation could not be delivered", _cause(err))

    async def _rollout(self, plan: CampaignPlanDetail) -> None:
        await self._wait_for_window()
        self._state = "capturing"
        for target in plan.targets:
            if not await self._checkpoint():
                return
            step = self._step(target.resource)
            try:
                change = await self._activity("prepare_change", step)
            except ActivityError as err:
                change = Change(
                    resource=target.resource, action=plan.action, outcome=Outcome.failed, detail=_cause(err)
                )
            self._changes[target.fingerprint] = change
            self._note("captured" if change.outcome == Outcome.planned else change.outcome.value, target.resource.id)
        ready = [t.fingerprint for t in plan.targets if self._changes[t.fingerprint].outcome == Outcome.planned]
        batches = split_batches(ready, canary=plan.canary, batches=plan.batches)
        self._batches_total = len(batches)
        failures = sum(1 for c in self._changes.values() if c.outcome == Outcome.failed)
        if failures > plan.max_failures:
            self._note("stopped", f"{failures} target(s) could not be captured; nothing was changed")
            self._state = "completed_with_failures"
            return
        for index, batch in enumerate(batches):
            self._batch = index + 1
            self._state = "canary" if index == 0 else f"batch {index + 1} of {len(batches)}"
            for fingerprint in batch:
                if not await self._checkpoint():
                    self._state = "aborted"
                    return
                await self._pace(plan.writes_per_minute)
                if not await self._change_one(fingerprint):
                    failures += 1
                if failures > plan.max_failures:
                    self._note("stopped", f"{failures} failure(s) > max_failures {plan.max_failures}")
                    await self._rollback_all("too many failures")
                    self._state = "rolled_back"
                    return
            self._note("batch verified", f"{index + 1} of {len(batches)}")
            if index + 1 < len(batches):
                if plan.bake > timedelta(0):
                    self._state = "baking"
                    await workflow.sleep(plan.bake)
                await self._wait_for_window()
        self._state = "completed_with_failures" if failures else "completed"

    async def _change_one(self, fingerprint: str) -> bool:
        """Apply and verify one resource; restore it at once if verification fails. True when verified."""
        change = self._changes[fingerprint]
        self._order.append(fingerprint)  # registered before the write: a crash mid-apply is still rolled back
        step = self._step(change.resource, change)
        try:
            change = await self._activity("apply_change", step)
            self._changes[fingerprint] = change
            change = await self._activity("verify_change", step.model_copy(update={"change": change}))
        except ActivityError as err:
            change = change.model_copy(update={"outcome": Outcome.failed, "detail": _cause(err)})
        self._changes[fingerprint] = change
        self._note(change.outcome.value, change.resource.id)
        if change.outcome == Outcome.verified:
            return True
        self._changes[fingerprint] = await self._restore(change, reason=change.detail)
        return False

    async def _restore(self, change: Change, *, reason: str) -> Change:
        step = self._step(change.resource, change)
        try:
            # Shielded: cancelling the campaign must not cancel putting things back.
            restored: Change = await asyncio.shield(asyncio.ensure_future(self._activity("restore_change", step)))
        except ActivityError as err:
            restored = change.model_copy(
                update={"outcome": Outcome.restore_failed, "detail": f"restore failed: {_cause(err)}"}
            )
        self._note(restored.outcome.value, f"{change.resource.id} ({reason})" if reason else change.resource.id)
        if restored.outcome == Outcome.restore_failed:
            workflow.logger.error("RESTORE FAILED", extra={"resource": change.resource.id, "detail": restored.detail})
        return restored

    async def _rollback_all(self, reason: str) -> None:
        """Restore every resource changed so far, newest first; a failing restore is recorded and we carry on."""
        self._state = "rolling_back"
        self._note("rolling back", reason)
        for fingerprint in reversed(self._order):
            change = self._changes[fingerprint]
            if change.outcome in (Outcome.applied, Outcome.verified, Outcome.failed):
                self._changes[fingerprint] = await self._restore(change, reason=reason)

    # ---- helpers ---------------------------------------------------------------------------------------------

    def _step(self, resource: ResourceRef, change: Change | None = None) -> ChangeStep:
        return ChangeStep(
            tenant_key=self._request.tenant_key, playbook_id=self._request.playbook_id, resource=resource, change=change
        )

    async def _activity(self, name: str, step: ChangeStep) -> Change:
        result: Change = await workflow.execute_activity(
            name,
            step,
            result_type=Change,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=self._request.step_heartbeat,
            retry_policy=RETRY,
        )
        return result

    async def _checkpoint(self) -> bool:
        """Between resources: hold while paused; False once aborted."""
        if self._paused:
            previous, self._state = self._state, "paused"
            await workflow.wait_condition(lambda: not self._paused or self._aborted)
            self._state = previous
        return not self._aborted

    async def _pace(self, per_minute: int) -> None:
        """At most `per_minute` writes in any 60 s of workflow time (a per-tenant budget)."""
        now = workflow.now().timestamp()
        self._writes = [t for t in self._writes if now - t < 60]
        if len(self._writes) >= per_minute:
            await workflow.sleep(timedelta(seconds=60 - (now - self._writes[0])))
        self._writes.append(workflow.now().timestamp())

    async def _wait_for_window(self) -> None:
        while True:
            verdict = await workflow.execute_activity(
                "check_change_window",
                WindowInput(tenant_key=self._request.tenant_key, at=workflow.now()),
                result_type=WindowVerdict,
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
            if verdict.hold_until is None:
                return
            self._state = "frozen"
            self._note("held by freeze window", f"until {verdict.hold_until.isoformat()}")
            await workflow.sleep(max(verdict.hold_until - workflow.now(), timedelta(seconds=1)))

    async def _settle(self) -> None:
        statuses = {
            t.fingerprint: _LEDGER.get(self._changes[t.fingerprint].outcome, FindingStatus.failed).value
            if t.fingerprint in self._changes
            else FindingStatus.open.value
            for t in (self._plan.targets if self._plan else [])
        }
        await workflow.execute_activity(
            "settle_findings",
            SettleInput(tenant_key=self._request.tenant_key, campaign_id=self._request.campaign_id, statuses=statuses),
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )

    async def _finish(self, state: str) -> RemediationResult:
        self._state = state
        self._note(state)
        await self._settle()
        return self._result()

    def _result(self) -> RemediationResult:
        return RemediationResult(
            campaign_id=self._request.campaign_id,
            playbook_id=self._request.playbook_id,
            tenant_key=self._request.tenant_key,
            changes=self._ordered_changes(),
            outcome=self._state,
        )

    def _ordered_changes(self) -> list[Change]:
        targets = self._plan.targets if self._plan else []
        return [self._changes[t.fingerprint] for t in targets if t.fingerprint in self._changes]

    def _note(self, event: str, detail: str = "") -> None:
        self._timeline.append({"at": workflow.now().isoformat(), "event": event, "detail": detail})

    def _rollback_requested(self) -> bool:
        required = self._plan.required_approvals if self._plan else 1
        return len({d.approver for d in self._rollback_votes}) >= required

    # ---- decisions and operator controls ---------------------------------------------------------------------

    def _refused(self, verb: str, request: Decision | OperatorRequest, err: ValueError) -> None:
        """Log the refusal for the worker's audit log (`mendflow.auth.refusals`): validators cannot do I/O."""
        actor = request.approver if isinstance(request, Decision) else request.operator
        refusal = {"verb": verb, "actor": actor, "reason": str(err), "channel": request.channel.value,
                   "signed": request.proof is not None, "workflow_id": workflow.info().workflow_id,
                   "task_queue": workflow.info().task_queue}  # fmt: skip
        workflow.logger.warning("request refused", extra={"mendflow_refusal": refusal})

    def _used(self, request: Decision | OperatorRequest) -> None:
        if request.proof is not None:
            self._nonces.add(nonce_of(request.proof.claims))

    @workflow.update
    def decide(self, decision: Decision) -> DecisionOutcome:
        """Approve or reject the campaign (validated first: see `_validate_decision`)."""
        self._used(decision)
        decision = decision.model_copy(update={"at": workflow.now()})
        self._decisions.append(decision)
        self._note(
            f"{decision.verdict.value}d by {decision.approver}", f"via {decision.channel.value}: {decision.reason}"
        )
        assert self._plan is not None
        if decision.verdict is Verdict.reject:
            self._verdict = Verdict.reject
            return DecisionOutcome(accepted=True, message="rejected: nothing will be changed", state="rejected")
        approvals = len({d.approver for d in self._decisions if d.verdict is Verdict.approve})
        if approvals >= self._plan.required_approvals:
            self._verdict = Verdict.approve
            return DecisionOutcome(accepted=True, message="approved: rollout starts with the canary", state="approved")
        missing = self._plan.required_approvals - approvals
        return DecisionOutcome(
            accepted=True, message=f"approval recorded; {missing} more distinct approver(s) needed", state=self._state
        )

    @decide.validator
    def _validate_decision(self, decision: Decision) -> None:
        """The API's proof first, then RBAC and four-eyes on the identity inside it (`mendflow.auth.policy`)."""
        try:
            self._check_decision(decision)
        except ValueError as err:
            self._refused("decide", decision, err)
            raise

    def _check_decision(self, decision: Decision) -> None:
        check_decision(
            decision,
            workflow_id=workflow.info().workflow_id,
            plan=self._plan,
            awaiting=self._state == "awaiting_approval" and self._verdict is None,
            state=self._state,
            requested_by=self._request.requested_by,
            decisions=self._decisions,
            nonces=self._nonces,
            now=workflow.now(),
        )

    @workflow.update
    def pause(self, request: OperatorRequest) -> str:
        self._used(request)
        self._paused = True
        self._note(f"paused by {request.operator}", request.reason)
        return "paused: the rollout stops before the next resource"

    @pause.validator
    def _validate_pause(self, request: OperatorRequest) -> None:
        try:
            self._check_pause(request)
        except ValueError as err:
            self._refused("pause", request, err)
            raise

    def _check_pause(self, request: OperatorRequest) -> None:
        self._check_operator(request, "pause")
        if self._paused:
            raise ValueError("already paused")
        if self._state in IDLE - {"awaiting_approval"} or self._state == "rolling_back":
            raise ValueError(f"nothing to pause (state: {self._state})")

    @workflow.update
    def resume(self, request: OperatorRequest) -> str:
        self._used(request)
        self._paused = False
        self._note(f"resumed by {request.operator}", request.reason)
        return "resumed"

    @resume.validator
    def _validate_resume(self, request: OperatorRequest) -> None:
        try:
            self._check_resume(request)
        except ValueError as err:
            self._refused("resume", request, err)
            raise

    def _check_resume(self, request: OperatorRequest) -> None:
        self._check_operator(request, "resume")
        if not self._paused:
            raise ValueError("not paused")

    @workflow.update
    def abort(self, request: OperatorRequest) -> str:
        self._used(request)
        self._aborted = True
        if self._verdict is None and self._state == "awaiting_approval":
            self._verdict = Verdict.reject
        self._note(f"aborted by {request.operator}", request.reason)
        return "aborted: no further resource will be changed; changed ones stay changed unless rolled back"

    @abort.validator
    def _validate_abort(self, request: OperatorRequest) -> None:
        try:
            self._check_abort(request)
        except ValueError as err:
            self._refused("abort", request, err)
            raise

    def _check_abort(self, request: OperatorRequest) -> None:
        self._check_operator(request, "abort")
        if self._aborted or self._state in IDLE - {"awaiting_approval", "paused"}:
            raise ValueError(f"nothing to abort (state: {self._state})")

    @workflow.update
    def rollback(self, request: OperatorRequest) -> str:
        self._used(request)
        vote = Decision(
            approver=request.operator,
            groups=request.groups,
            verdict=Verdict.approve,
            channel=request.channel,
            reason=request.reason,
            at=workflow.now(),
        )
        self._rollback_votes.append(vote)
        self._note(f"rollback requested by {request.operator}", request.reason)
        if self._rollback_requested():
            return "rollback starts: captured prior state is restored, newest change first"
        required = self._plan.required_approvals if self._plan else 1
        missing = required - len({d.approver for d in self._rollback_votes})
        return f"rollback request recorded; {missing} more distinct approver(s) needed"

    @rollback.validator
    def _validate_rollback(self, request: OperatorRequest) -> None:
        try:
            self._check_rollback(request)
        except ValueError as err:
            self._refused("rollback", request, err)
            raise

    def _check_rollback(self, request: OperatorRequest) -> None:
        self._check_operator(request, "rollback")
        if self._state not in ("completed", "completed_with_failures", "aborted"):
            raise ValueError(f"only a finished or aborted rollout can be rolled back (state: {self._state})")
        if any(v.approver == request.operator for v in self._rollback_votes):
            raise ValueError(f"{request.operator} has already requested this rollback")

    def _check_operator(self, request: OperatorRequest, verb: str) -> None:
        check_operator(
            request,
            verb=verb,
            workflow_id=workflow.info().workflow_id,
            plan=self._plan,
            nonces=self._nonces,
            now=workflow.now(),
        )

    @workflow.update(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def wait_idle(self) -> CampaignStatus:
        """Returns once nothing moves without a person: awaiting approval, finished, paused."""
        await workflow.wait_condition(lambda: self._state in IDLE)
        return self.status()

    @workflow.query
    def status(self) -> CampaignStatus:
        return CampaignStatus(
            campaign_id=self._request.campaign_id,
            playbook_id=self._request.playbook_id,
            state=self._state,
            plan=self._plan,
            batch=self._batch,
            batches_total=self._batches_total,
            paused=self._paused,
            escalated=self._escalated,
            changes=self._ordered_changes(),
            decisions=list(self._decisions),
            rollback_requests=list(self._rollback_votes),
            timeline=list(self._timeline),
            refs=self._refs,
        )


def _cause(err: BaseException) -> str:
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)
