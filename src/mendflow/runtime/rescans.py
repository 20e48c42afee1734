"""Asking for a targeted rescan: signal-with-start of the tenant's RescanWorkflow (used by the webhook endpoints).

The first request starts `mendflow-rescan:<tenant key>`; while it runs, later requests are signals to the same
run, so a burst of deliveries coalesces there (see workflows/rescan.py). Only canonical paths travel: never a
webhook payload.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from mendflow.runtime.client import TASK_QUEUE
from mendflow.workflow_types import RescanInput, RescanRequest, RescanStatus

RESCAN_WORKFLOW = "RescanWorkflow"
RESCAN_ID_PREFIX = "mendflow-rescan:"
REQUEST_SIGNAL = "request"
STATUS_QUERY = "status"


def rescan_workflow_id(tenant_key: str) -> str:
    """One rescan workflow per tenant."""
    return f"{RESCAN_ID_PREFIX}{tenant_key}"


async def request_rescan(
    client: Client,
    tenant_key: str,
    targets: list[str],
    *,
    source: str = "",
    task_queue: str = TASK_QUEUE,
    debounce: timedelta | None = None,
) -> WorkflowHandle[object, RescanStatus]:
    """Add `targets` to the tenant's next rescan, starting its workflow if none runs (`debounce`: for a new run)."""
    start = RescanInput(tenant_key=tenant_key)
    if debounce is not None:
        start = start.model_copy(update={"debounce": debounce})
    handle: WorkflowHandle[object, RescanStatus] = await client.start_workflow(
        RESCAN_WORKFLOW,
        start,
        id=rescan_workflow_id(tenant_key),
        task_queue=task_queue,
        result_type=RescanStatus,
        start_signal=REQUEST_SIGNAL,
        start_signal_args=[RescanRequest(targets=targets, source=source)],
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return handle


async def rescan_status(client: Client, tenant_key: str) -> RescanStatus:
    """The `status` query of the tenant's latest rescan run."""
    status: RescanStatus = await client.get_workflow_handle(rescan_workflow_id(tenant_key)).query(
        STATUS_QUERY, result_type=RescanStatus
    )
    return status


__all__ = [
    "REQUEST_SIGNAL",
    "RESCAN_ID_PREFIX",
    "RESCAN_WORKFLOW",
    "STATUS_QUERY",
    "request_rescan",
    "rescan_status",
    "rescan_workflow_id",
]
