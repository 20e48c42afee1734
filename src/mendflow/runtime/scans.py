"""Starting a scan through Temporal and following the campaigns it starts (used by the CLI and the demo)."""

from __future__ import annotations

import asyncio
import secrets
import time

from temporalio.client import Client

from mendflow.runtime.client import TASK_QUEUE
from mendflow.workflow_types import CampaignStatus, ScanInput, ScanResult


async def wait_idle(client: Client, campaign_id: str) -> CampaignStatus:
    """Until the campaign needs a person or is done (awaiting approval, paused, finished)."""
    status: CampaignStatus = await client.get_workflow_handle(campaign_id).execute_update(
        "wait_idle", result_type=CampaignStatus
    )
    return status


async def run_scan_and_wait(
    client: Client, tenant_key: str, *, task_queue: str = TASK_QUEUE
) -> tuple[ScanResult, list[CampaignStatus]]:
    """Run one ScanWorkflow, then follow every campaign it started until each is idle."""
    scan_id = f"scan/{tenant_key}/{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    result: ScanResult = await client.execute_workflow(
        "ScanWorkflow", ScanInput(tenant_key=tenant_key), id=scan_id, task_queue=task_queue, result_type=ScanResult
    )
    campaigns = await asyncio.gather(*(wait_idle(client, cid) for cid in result.campaigns_started))
    return result, list(campaigns)
