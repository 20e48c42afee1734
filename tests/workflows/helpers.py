"""Helpers for workflow tests: run a scan on a worker and wait for the campaigns it started."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio.client import Client

from mendflow.workflow_types import RemediationResult, ScanInput, ScanResult

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


async def campaign_results(client: Client, scan: ScanResult) -> dict[str, RemediationResult]:
    out = {}
    for cid in scan.campaigns_started:
        result = await client.get_workflow_handle(cid, result_type=RemediationResult).result()
        out[result.playbook_id] = result
    return out
