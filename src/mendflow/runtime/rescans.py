"""Asking for a targeted rescan: signal-with-start of the tenant's RescanWorkflow (used by the webhook endpoints).

The first request starts `mendflow-rescan:<tenant key>`; while it runs, later requests are signals to the same
run, so a burst of deliveries coalesces there (see workflows/rescan.py). `RescanRequests` coalesces earlier, in
the client: requests for a tenant that arrive while its previous signal is in flight travel together in the next
one, so a burst of N deliveries costs a few signals (and workflow tasks), not N. Only canonical paths travel:
never a webhook payload.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from mendflow.runtime.client import TASK_QUEUE
from mendflow.workflow_types import RescanInput, RescanRequest, RescanStatus

RESCAN_WORKFLOW = "RescanWorkflow"
RESCAN_ID_PREFIX = "mendflow-rescan:"
REQUEST_SIGNAL = "request"
STATUS_QUERY = "status"
MAX_TARGETS = 500
"""Targets one coalesced signal carries at most (~20 kB of paths: a burst never makes one large payload)."""


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
    requests: int = 1,
) -> WorkflowHandle[object, RescanStatus]:
    """Add `targets` to the tenant's next rescan, starting its workflow if none runs (`debounce`: for a new run;
    `requests`: how many requests these targets gather)."""
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
        start_signal_args=[RescanRequest(targets=targets, source=source, requests=requests)],
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return handle


@dataclass
class _Batch:
    """Requests for one tenant that travel in one signal."""

    targets: dict[str, None] = field(default_factory=dict)
    requests: int = 0
    first_source: str = ""
    sent: asyncio.Task[None] | None = None

    def add(self, targets: list[str], source: str) -> None:
        self.targets.update(dict.fromkeys(targets))
        self.requests += 1
        self.first_source = self.first_source or source

    @property
    def source(self) -> str:
        """For the log: the first request's source, and how many more came with it."""
        more = self.requests - 1
        return f"{self.first_source} and {more} more" if more else self.first_source


@dataclass
class _Lane:
    """One tenant's requests: the batches still gathering (oldest first), and the lock held while one is sent."""

    gathering: list[_Batch] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def join(self, targets: list[str], source: str) -> _Batch:
        """The batch these targets travel in: the newest, unless it is full."""
        if not self.gathering or len(self.gathering[-1].targets) >= MAX_TARGETS:
            self.gathering.append(_Batch())
        batch = self.gathering[-1]
        batch.add(targets, source)
        return batch


class RescanRequests:
    """`request_rescan` for many concurrent callers of one client (the webhook endpoints of an API process).

    One signal per tenant is in flight at a time; requests arriving meanwhile gather, and the next signal carries
    them (up to `MAX_TARGETS`; `RescanRequest.requests` counts them). Each caller returns once the signal carrying
    its targets was accepted, and gets that signal's error if it was not: a delivery is acknowledged only when its
    rescan is durably requested, as with one signal per delivery. A lone request is sent at once (no added wait).
    """

    def __init__(self, client: Client, *, task_queue: str = TASK_QUEUE, debounce: timedelta | None = None) -> None:
        self.client = client
        self.task_queue = task_queue
        self.debounce = debounce
        self._lanes: dict[str, _Lane] = {}
        # a send whose callers all went away still finishes: held here, not only by them (the loop keeps weak refs)
        self._in_flight: set[asyncio.Task[None]] = set()

    async def request(self, tenant_key: str, targets: list[str], *, source: str = "") -> None:
        """Add `targets` to the tenant's next rescan; returns once a signal carrying them was accepted."""
        lane = self._lanes.setdefault(tenant_key, _Lane())
        batch = lane.join(targets, source)
        async with lane.lock:
            if batch.sent is None:  # nobody sent it while this caller waited: this caller does, with all it gathered
                lane.gathering.remove(batch)
                batch.sent = asyncio.create_task(self._send(tenant_key, batch))
                self._in_flight.add(batch.sent)
                batch.sent.add_done_callback(self._forget)
            # shielded: a caller that goes away (a closed connection) does not cancel the others' signal
            await asyncio.shield(batch.sent)

    async def _send(self, tenant_key: str, batch: _Batch) -> None:
        await request_rescan(
            self.client, tenant_key, list(batch.targets), source=batch.source, task_queue=self.task_queue,
            debounce=self.debounce, requests=batch.requests,
        )  # fmt: skip

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here too: every caller may have gone before it failed


async def rescan_status(client: Client, tenant_key: str) -> RescanStatus:
    """The `status` query of the tenant's latest rescan run."""
    status: RescanStatus = await client.get_workflow_handle(rescan_workflow_id(tenant_key)).query(
        STATUS_QUERY, result_type=RescanStatus
    )
    return status


__all__ = [
    "MAX_TARGETS",
    "REQUEST_SIGNAL",
    "RESCAN_ID_PREFIX",
    "RESCAN_WORKFLOW",
    "STATUS_QUERY",
    "RescanRequests",
    "request_rescan",
    "rescan_status",
    "rescan_workflow_id",
]
