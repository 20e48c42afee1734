"""SuppressionWorkflow: park one finding as accepted risk, and re-open it when the acceptance expires.

A durable timer, not a cron: the expiry survives worker and server restarts. The RBAC check happens in the
`suppress_finding` activity, against the worker's config, so every channel is held to the same rule.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from mendflow.workflow_types import SuppressionInput, SuppressionResult, SuppressionStep

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5)


@workflow.defn(name="SuppressionWorkflow")
class SuppressionWorkflow:
    @workflow.run
    async def run(self, request: SuppressionInput) -> SuppressionResult:
        step = SuppressionStep(
            fingerprint=request.fingerprint,
            reference=workflow.info().workflow_id,
            requested_by=request.requested_by,
            groups=request.groups,
        )
        await workflow.execute_activity(
            "suppress_finding", step, start_to_close_timeout=timedelta(minutes=1), retry_policy=RETRY
        )
        wait = request.expires_at - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        reopened: bool = await workflow.execute_activity(
            "reopen_finding", step, result_type=bool, start_to_close_timeout=timedelta(minutes=1), retry_policy=RETRY
        )
        return SuppressionResult(
            fingerprint=request.fingerprint, suppressed_until=request.expires_at, reopened=reopened
        )
