"""Suppression activities: RBAC-checked parking of a finding, and its re-opening at expiry."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from mendflow.auth.policy import check_suppression
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import SuppressionStep


class SuppressionActivities:
    def __init__(self, context: WorkerContext) -> None:
        self.ctx = context

    @activity.defn(name="suppress_finding")
    async def suppress_finding(self, step: SuppressionStep) -> None:
        """Verify the API's proof (worker's trusted keys), the suppressors (worker's RBAC), then park it."""
        try:
            check_suppression(
                step,
                trusted=self.ctx.settings.security.trusted_keys,
                suppressors=self.ctx.settings.rbac.suppressors,
                requested_at=step.requested_at or activity.info().started_time,
            )
        except ValueError as err:
            raise ApplicationError(str(err), type="NotAllowed", non_retryable=True) from None
        row = self.ctx.ledger.find(step.fingerprint)
        if row is None:
            raise ApplicationError(f"no finding {step.fingerprint} in the ledger", type="NotFound", non_retryable=True)
        if row.status.value == "suppressed" and row.campaign == step.reference:
            return  # a retry after a crash: already done
        if not self.ctx.ledger.suppress(step.fingerprint, reference=step.reference):
            raise ApplicationError(
                f"finding {step.fingerprint} is {row.status.value}, not open: nothing to suppress",
                type="NotOpen",
                non_retryable=True,
            )

    @activity.defn(name="reopen_finding")
    async def reopen_finding(self, step: SuppressionStep) -> bool:
        return self.ctx.ledger.reopen(step.fingerprint, reference=step.reference)
