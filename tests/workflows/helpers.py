"""Helpers for workflow tests: run a scan on a worker and follow the campaigns it started."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.client import Client

from mendflow.runtime.scans import wait_idle
from mendflow.workflow_types import CampaignStatus, ScanInput, ScanResult

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


async def run_scan(client: Client, task_queue: str, tenant_key: str = "github:acme") -> ScanResult:
    result: ScanResult = await client.execute_workflow(
        "ScanWorkflow",
        ScanInput(tenant_key=tenant_key, as_of=AS_OF),
        id=f"scan-{uuid.uuid4()}",
        task_queue=task_queue,
        result_type=ScanResult,
    )
    return result


async def campaign_results(client: Client, scan: ScanResult) -> dict[str, CampaignStatus]:
    """Each campaign's status once it is idle (finished, or waiting for a person), by playbook id."""
    out = {}
    for cid in scan.campaigns_started:
        status = await wait_idle(client, cid)
        out[status.playbook_id] = status
    return out


async def forget_the_dead_workers_cache(client: Client, workflow_id: str) -> None:
    """After a worker is SIGKILLed: send the workflow's next task to the shared queue at once.

    Left sticky, it would wait out the dead worker's 10 s schedule-to-start timeout first (the server still counts
    that worker as polling): 10 s of nothing per test, with the same outcome once they are over.
    """
    await client.workflow_service.reset_sticky_task_queue(
        ResetStickyTaskQueueRequest(namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id))
    )
