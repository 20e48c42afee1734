"""ScanWorkflow: collect → evaluate → reconcile → start one RemediationWorkflow per campaign.

Thin and deterministic: every side effect is an activity. Campaign workflow ids are derived from their content,
so a second scan that finds the same open findings starts nothing new.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from mendflow.routing import Activity, queue_of
    from mendflow.workflow_types import (
        CollectInput,
        CollectResult,
        EvaluateInput,
        EvaluateResult,
        ReconcileInput,
        ReconcileResult,
        ScanInput,
        ScanResult,
    )

    from .launch import start_campaigns, start_responses

READ_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=5
)


@workflow.defn(name="ScanWorkflow")
class ScanWorkflow:
    @workflow.run
    async def run(self, request: ScanInput) -> ScanResult:
        as_of = request.as_of or workflow.now()
        collected: CollectResult = await workflow.execute_activity(
            Activity.collect_inventory,
            CollectInput(tenant_key=request.tenant_key),
            result_type=CollectResult,
            task_queue=queue_of(workflow.info().task_queue, Activity.collect_inventory),
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=READ_RETRY,
        )
        evaluated: EvaluateResult = await workflow.execute_activity(
            Activity.evaluate_rules,
            EvaluateInput(tenant_key=request.tenant_key, snapshot=collected.snapshot, as_of=as_of),
            result_type=EvaluateResult,
            task_queue=queue_of(workflow.info().task_queue, Activity.evaluate_rules),
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=READ_RETRY,
        )
        reconciled: ReconcileResult = await workflow.execute_activity(
            Activity.reconcile_findings,
            ReconcileInput(
                tenant_key=request.tenant_key,
                findings=evaluated.findings,
                rules=evaluated.rules,
                seen_at=workflow.now(),
                snapshot=collected.snapshot,
                complete=not collected.gaps,
            ),
            result_type=ReconcileResult,
            task_queue=queue_of(workflow.info().task_queue, Activity.reconcile_findings),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=READ_RETRY,
        )
        started, existing = await start_campaigns(
            reconciled.campaigns, tenant_key=request.tenant_key, requested_by=f"scan:{workflow.info().workflow_id}"
        )
        responses: list[str] = []
        if reconciled.responses.launches:  # finding triggers of loaded workflow playbooks
            responses, _ = await start_responses(
                reconciled.responses, tenant_key=request.tenant_key, requested_by=f"scan:{workflow.info().workflow_id}"
            )
        workflow.logger.info(
            "scan done", extra={"resources": collected.resources, "findings": evaluated.count, "campaigns": started}
        )
        return ScanResult(
            tenant_key=request.tenant_key,
            snapshot=collected.snapshot,
            findings_digest=evaluated.findings,
            resources=collected.resources,
            findings=evaluated.count,
            new=reconciled.new,
            still_open=reconciled.still_open,
            gone=reconciled.gone,
            campaigns_started=started,
            campaigns_existing=existing,
            responses_started=responses,
            gaps=collected.gaps,
            evaluation_errors=len(evaluated.errors),
        )
