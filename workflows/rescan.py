"""RescanWorkflow: one per tenant (id `mendflow-rescan:<tenant key>`), fed by vendor webhooks.

Each webhook becomes a `request` signal sent with signal-with-start, so the first delivery starts the run and the
rest join it. A request waits `debounce` for others, then every pending target is rescanned once: collect_targets
→ evaluate_rules → reconcile_findings (complete=False, with the scopes read: nothing else resolves) → campaigns.
Requests arriving during a rescan are served by the next one, so a burst for one resource costs one or two
rescans, never one per delivery. After `idle` without requests the run completes (the next delivery starts a new
one); after `max_batches` rescans (100), or when Temporal suggests it, it continues as new with the pending
targets.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from mendflow.routing import Activity, queue_of
    from mendflow.runtime.rescans import REQUEST_SIGNAL
    from mendflow.workflow_types import (
        CollectResult,
        EvaluateInput,
        EvaluateResult,
        ReconcileInput,
        ReconcileResult,
        RescanBatch,
        RescanInput,
        RescanRequest,
        RescanStatus,
        TargetedCollectInput,
    )

    from .launch import start_campaigns, start_responses
    from .scan import READ_RETRY

STATUS_BATCHES = 100
"""Rescans the `status` query returns (the newest)."""
STATUS_TARGETS = 50
"""Targets each of them lists (the first; `target_count` has them all): 100 rescans of 1,000 targets listed whole
would be a ~4.5 MB answer, past gRPC's 4 MB, and as much held in the workflow's memory."""


@workflow.defn(name="RescanWorkflow")
class RescanWorkflow:
    @workflow.init
    def __init__(self, request: RescanInput) -> None:
        # the next rescan's targets, each once in arrival order (a dict: a burst's signals cost O(targets), not O(n²))
        self.pending: dict[str, None] = dict.fromkeys(request.pending)
        self.waiting_requests = 1 if request.pending else 0
        self.batches: list[RescanBatch] = []

    @workflow.signal(name=REQUEST_SIGNAL)
    def request(self, request: RescanRequest) -> None:
        """Add targets to the next rescan (each once, in arrival order)."""
        self.pending.update(dict.fromkeys(request.targets))
        self.waiting_requests += request.requests

    @workflow.query
    def status(self) -> RescanStatus:
        return RescanStatus(batches=self.batches[-STATUS_BATCHES:], pending=list(self.pending))

    @workflow.run
    async def run(self, request: RescanInput) -> RescanStatus:
        while True:
            try:
                await workflow.wait_condition(lambda: bool(self.pending), timeout=request.idle)
            except TimeoutError:
                return self.status()
            await asyncio.sleep(request.debounce.total_seconds())  # let the rest of a burst arrive
            targets, self.pending = list(self.pending), {}
            served, self.waiting_requests = self.waiting_requests, 0
            try:
                batch = await self._rescan(request.tenant_key, targets, served)
            except ActivityError as err:  # retries exhausted or not retryable: say so, keep serving the tenant
                why = str(err.cause or err)
                workflow.logger.warning("rescan failed", extra={"targets": len(targets), "error": why})
                batch = RescanBatch(
                    targets=targets[:STATUS_TARGETS], target_count=len(targets), requests=0, resources=0, findings=0,
                    new=0, gone=0, campaigns_started=[], requests_coalesced=served, error=why,
                )  # fmt: skip
            self.batches.append(batch)
            if len(self.batches) >= request.max_batches or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(request.model_copy(update={"pending": list(self.pending)}))

    async def _rescan(self, tenant_key: str, targets: list[str], served: int) -> RescanBatch:
        base = workflow.info().task_queue
        collected: CollectResult = await workflow.execute_activity(
            Activity.collect_targets,
            TargetedCollectInput(tenant_key=tenant_key, targets=targets),
            result_type=CollectResult,
            task_queue=queue_of(base, Activity.collect_targets),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=READ_RETRY,
        )
        evaluated: EvaluateResult = await workflow.execute_activity(
            Activity.evaluate_rules,
            EvaluateInput(tenant_key=tenant_key, snapshot=collected.snapshot, as_of=workflow.now()),
            result_type=EvaluateResult,
            task_queue=queue_of(base, Activity.evaluate_rules),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=READ_RETRY,
        )
        reconciled: ReconcileResult = await workflow.execute_activity(
            Activity.reconcile_findings,
            ReconcileInput(
                tenant_key=tenant_key,
                findings=evaluated.findings,
                rules=evaluated.rules,
                seen_at=workflow.now(),
                snapshot=collected.snapshot,
                complete=False,  # a rescan resolves only what it read, or what it covered and found deleted
                covered=collected.covered,
            ),
            result_type=ReconcileResult,
            task_queue=queue_of(base, Activity.reconcile_findings),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=READ_RETRY,
        )
        started, _ = await start_campaigns(
            reconciled.campaigns, tenant_key=tenant_key, requested_by=f"rescan:{workflow.info().workflow_id}"
        )
        responses: list[str] = []
        if reconciled.responses.launches:  # finding triggers of loaded workflow playbooks
            responses, _ = await start_responses(
                reconciled.responses, tenant_key=tenant_key, requested_by=f"rescan:{workflow.info().workflow_id}"
            )
        workflow.logger.info(
            "rescan done",
            extra={"targets": len(targets), "requests": collected.requests, "findings": evaluated.count},
        )
        return RescanBatch(
            targets=targets[:STATUS_TARGETS],
            target_count=len(targets),
            requests=collected.requests,
            resources=collected.resources,
            findings=evaluated.count,
            new=reconciled.new,
            gone=reconciled.gone,
            campaigns_started=started,
            requests_coalesced=served,
            responses_started=responses,
        )


__all__ = ["STATUS_BATCHES", "STATUS_TARGETS", "RescanWorkflow"]
