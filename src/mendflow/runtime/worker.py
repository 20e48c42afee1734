"""Assembling a worker: every workflow and activity of mendflow on one task queue."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from mendflow.activities.publish import PublishActivities
from mendflow.activities.remediation import RemediationActivities
from mendflow.activities.scan import ScanActivities
from mendflow.activities.suppression import SuppressionActivities
from mendflow.runtime.client import TASK_QUEUE
from mendflow.worker_context import WorkerContext
from mendflow.workflows import WORKFLOWS


def build_worker(client: Client, context: WorkerContext, *, task_queue: str = TASK_QUEUE) -> Worker:
    scan = ScanActivities(context)
    remediation = RemediationActivities(context)
    suppression = SuppressionActivities(context)
    publish = PublishActivities(context)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=[
            scan.collect_inventory,
            scan.evaluate_rules,
            scan.reconcile_findings,
            remediation.plan_campaign,
            remediation.check_change_window,
            publish.escalate_campaign,
            publish.publish_campaign,
            remediation.prepare_change,
            remediation.apply_change,
            remediation.verify_change,
            remediation.restore_change,
            remediation.settle_findings,
            suppression.suppress_finding,
            suppression.reopen_finding,
        ],
    )
