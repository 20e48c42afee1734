"""RemediationWorkflow (auto mode): for each target, capture → apply → verify; restore on failure.

The captured prior state lives in workflow state (it is small: only the fields an action writes), so a restore
never depends on anything outside the workflow's history. Approval gates and canary batches build on this.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from mendflow.findings_store import FindingStatus
    from mendflow.models import Change, Outcome
    from mendflow.workflow_types import (
        CampaignStatus,
        ChangeStep,
        RemediationInput,
        RemediationResult,
        SettleInput,
    )

WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5
)
STEP_TIMEOUT = timedelta(minutes=2)

_LEDGER_STATUS = {
    Outcome.verified: FindingStatus.resolved,
    Outcome.skipped: FindingStatus.resolved,
    Outcome.restored: FindingStatus.rolled_back,
}


@workflow.defn(name="RemediationWorkflow")
class RemediationWorkflow:
    @workflow.init
    def __init__(self, request: RemediationInput) -> None:
        self._request = request
        self._state = "starting"
        self._changes: dict[str, Change] = {}
        self._timeline: list[dict[str, str]] = []

    def _note(self, event: str, resource: str = "") -> None:
        self._timeline.append({"at": workflow.now().isoformat(), "event": event, "resource": resource})

    async def _step(self, name: str, step: ChangeStep) -> Change:
        change: Change = await workflow.execute_activity(
            name, step, result_type=Change, start_to_close_timeout=STEP_TIMEOUT, retry_policy=WRITE_RETRY
        )
        return change

    @workflow.run
    async def run(self, request: RemediationInput) -> RemediationResult:
        self._state = "running"
        self._note("started")
        for finding in request.findings:
            step = ChangeStep(tenant_key=request.tenant_key, playbook_id=request.playbook_id, resource=finding.resource)
            change = await self._remediate_one(step)
            self._changes[finding.fingerprint] = change
        failed = any(
            c.outcome in (Outcome.failed, Outcome.restored, Outcome.restore_failed) for c in self._changes.values()
        )
        await workflow.execute_activity(
            "settle_findings",
            SettleInput(
                tenant_key=request.tenant_key,
                campaign_id=request.campaign_id,
                statuses={
                    fp: _LEDGER_STATUS.get(change.outcome, FindingStatus.failed).value
                    for fp, change in self._changes.items()
                },
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=WRITE_RETRY,
        )
        done = [c for c in self._changes.values() if c.outcome != Outcome.skipped]
        self._state = "completed_with_failures" if failed else ("completed" if done else "nothing_to_do")
        self._note(self._state)
        return RemediationResult(
            campaign_id=request.campaign_id,
            playbook_id=request.playbook_id,
            tenant_key=request.tenant_key,
            changes=list(self._changes.values()),
            outcome=self._state,
        )

    async def _remediate_one(self, step: ChangeStep) -> Change:
        resource = step.resource.id
        try:
            change = await self._step("prepare_change", step)
        except ActivityError as err:
            self._note("prepare failed", resource)
            return Change(resource=step.resource, action="", outcome=Outcome.failed, detail=_cause(err))
        if change.outcome == Outcome.skipped:
            self._note("skipped", resource)
            return change
        self._note("captured", resource)
        step = step.model_copy(update={"change": change})
        try:
            change = await self._step("apply_change", step)
            self._note("applied", resource)
            change = await self._step("verify_change", step.model_copy(update={"change": change}))
        except ActivityError as err:
            change = change.model_copy(update={"outcome": Outcome.failed, "detail": _cause(err)})
        if change.outcome == Outcome.verified:
            self._note("verified", resource)
            return change
        # Compensation: put back exactly what was captured, then check it (restore_change re-reads).
        # Shielded so that cancelling the campaign does not cancel the restore itself.
        self._note("verify failed; restoring", resource)
        try:
            restore = self._step("restore_change", step.model_copy(update={"change": change}))
            return await asyncio.shield(asyncio.ensure_future(restore))
        except ActivityError as err:
            self._note("restore failed", resource)
            return change.model_copy(
                update={"outcome": Outcome.restore_failed, "detail": f"restore failed: {_cause(err)}"}
            )

    @workflow.query(name="status")
    def status(self) -> CampaignStatus:
        return CampaignStatus(
            campaign_id=self._request.campaign_id,
            playbook_id=self._request.playbook_id,
            state=self._state,
            changes=list(self._changes.values()),
            timeline=list(self._timeline),
        )


def _cause(err: BaseException) -> str:
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)
