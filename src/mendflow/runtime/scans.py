"""Starting a scan through Temporal and waiting for the campaigns it starts (used by the CLI and the demo)."""

from __future__ import annotations

import asyncio
import secrets
import time

from temporalio.client import Client

from mendflow.runtime.client import TASK_QUEUE
from mendflow.workflow_types import RemediationResult, ScanInput, ScanResult


async def run_scan_and_wait(
    client: Client, tenant_key: str, *, task_queue: str = TASK_QUEUE
) -> tuple[ScanResult, list[RemediationResult]]:
    """Run one ScanWorkflow, then wait for every campaign it started."""
    scan_id = f"scan/{tenant_key}/{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    result: ScanResult = await client.execute_workflow(
        "ScanWorkflow", ScanInput(tenant_key=tenant_key), id=scan_id, task_queue=task_queue, result_type=ScanResult
    )
    campaigns = await asyncio.gather(
        *(client.get_workflow_handle(cid, result_type=RemediationResult).result() for cid in result.campaigns_started)
    )
    return result, list(campaigns)
