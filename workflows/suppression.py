"""SuppressionWorkflow: park one finding as accepted risk, and re-open it when the acceptance expires.

A durable timer, not a cron: the expiry survives worker and server restarts. The `suppress_finding` activity
verifies the API's signed proof against the WORKER's trusted keys and checks the suppressors of the worker's
config, so every channel is held to the same rule and a workflow started straight on Temporal parks nothing.
The `outcome` update lets the caller wait for that verdict (accepted, or refused and why).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from mendflow.routing import Activity
    from mendflow.workflow_types import SuppressionInput, SuppressionOutcome, SuppressionResult, SuppressionStep

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5)


@workflow.defn(name="SuppressionWorkflow")
class SuppressionWorkflow:
    @workflow.init
    def __init__(self, request: SuppressionInput) -> None:
        self._outcome: SuppressionOutcome | None = None

    @workflow.run
    async def run(self, request: SuppressionInput) -> SuppressionResult:
        step = SuppressionStep(
            fingerprint=request.fingerprint,
            reference=workflow.info().workflow_id,
            requested_by=request.requested_by,
            groups=request.groups,
            proof=request.proof,
            reason=request.reason,
            requested_at=workflow.info().start_time,
        )
        try:
            await workflow.execute_activity(
                Activity.suppress_finding, step, start_to_close_timeout=timedelta(minutes=1), retry_policy=RETRY
            )
        except ActivityError as err:
            why = _cause(err)
            self._outcome = SuppressionOutcome(accepted=False, message=why)
            return SuppressionResult(
                fingerprint=request.fingerprint, suppressed_until=request.expires_at, reopened=False, refused=why
            )
        self._outcome = SuppressionOutcome(
            accepted=True, message=f"suppressed until {request.expires_at.isoformat()}; a timer re-opens it then"
        )
        wait = request.expires_at - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        reopened: bool = await workflow.execute_activity(
            Activity.reopen_finding,
            step,
            result_type=bool,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RETRY,
        )
        return SuppressionResult(
            fingerprint=request.fingerprint, suppressed_until=request.expires_at, reopened=reopened
        )

    @workflow.update
    async def outcome(self) -> SuppressionOutcome:
        """Returns once the worker has accepted or refused the suppression."""
        await workflow.wait_condition(lambda: self._outcome is not None)
        assert self._outcome is not None
        return self._outcome


def _cause(err: BaseException) -> str:
    """The innermost message (an ApplicationError's own words, without its type prefix)."""
    while err.__cause__ is not None:
        err = err.__cause__
    return err.message if isinstance(err, ApplicationError) else str(err)
