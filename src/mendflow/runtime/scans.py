"""Starting a scan through Temporal and following the campaigns it starts (used by the CLI and the demo)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError

from mendflow.errors import ConnectionProblem
from mendflow.routing import Activity
from mendflow.runtime.client import TASK_QUEUE
from mendflow.scan_progress import ScanProgress
from mendflow.workflow_types import CampaignStatus, ScanInput, ScanResult

SCAN_WORKFLOW = "ScanWorkflow"
PROGRESS_POLL = 1.0
"""Seconds between looks at a running scan's progress (one `DescribeWorkflowExecution` each)."""
CONTINUATIONS = 1_000
"""Runs of one campaign we follow before giving up (a 10,000-target campaign takes a few dozen)."""


async def wait_idle(client: Client, campaign_id: str) -> CampaignStatus:
    """Until the campaign needs a person or is done (awaiting approval, paused, finished).

    A long campaign continues as new while we wait, which ends the run our update was sent to: ask the next run.
    """
    for _ in range(CONTINUATIONS):
        handle = client.get_workflow_handle(campaign_id)
        try:
            status: CampaignStatus = await handle.execute_update("wait_idle", result_type=CampaignStatus)
        except (WorkflowUpdateFailedError, RPCError):
            if (await handle.describe()).status is not WorkflowExecutionStatus.RUNNING:
                raise
            continue
        return status
    raise ConnectionProblem(f"campaign {campaign_id} kept continuing as new while we waited; try again")


def scan_action(tenant_key: str, *, task_queue: str = TASK_QUEUE) -> ScheduleActionStartWorkflow:
    """What a Temporal Schedule starts: the same ScanWorkflow and input as `mendflow scan --tenant` (Temporal
    appends the scheduled time to the id, so each run has its own)."""
    return ScheduleActionStartWorkflow(
        SCAN_WORKFLOW, ScanInput(tenant_key=tenant_key), id=f"scan/{tenant_key}/scheduled", task_queue=task_queue
    )


async def run_scan_and_wait(
    client: Client,
    tenant_key: str,
    *,
    task_queue: str = TASK_QUEUE,
    on_progress: Callable[[ScanProgress], None] | None = None,
    poll: float = PROGRESS_POLL,
) -> tuple[ScanResult, list[CampaignStatus]]:
    """Run one ScanWorkflow, then follow every campaign it started until each is idle. With `on_progress`, the
    collection's progress is read from its heartbeats every `poll` seconds while it runs."""
    scan_id = f"scan/{tenant_key}/{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    handle = await client.start_workflow(
        SCAN_WORKFLOW, ScanInput(tenant_key=tenant_key), id=scan_id, task_queue=task_queue, result_type=ScanResult
    )
    if on_progress is None:
        result: ScanResult = await handle.result()
    else:
        waiting = asyncio.ensure_future(handle.result())
        try:
            while not waiting.done():
                progress = await collection_progress(client, handle)
                if progress is not None:
                    on_progress(progress)
                await asyncio.wait({waiting}, timeout=poll)
        finally:
            waiting.cancel()  # a no-op once done; stops waiting if our caller was interrupted
        result = waiting.result()
    campaigns = await asyncio.gather(*(wait_idle(client, cid) for cid in result.campaigns_started))
    return result, list(campaigns)


async def collection_progress(client: Client, handle: WorkflowHandle[Any, Any]) -> ScanProgress | None:
    """The latest progress the scan's collect activity heartbeated (None before the first, or when it is over)."""
    try:
        description = await handle.describe()
    except RPCError:
        return None  # progress is a nicety: a failed look is skipped, the result still arrives
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name == Activity.collect_inventory and pending.heartbeat_details.payloads:
            try:
                [details] = await client.data_converter.decode(pending.heartbeat_details.payloads, [ScanProgress])
                return ScanProgress.model_validate(details)
            except Exception:  # an older worker's details (a count), or ones this client cannot decrypt
                return None
    return None
