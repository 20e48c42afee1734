"""A tenant's limits held across every worker: the vendor's rate windows, the write budget and the concurrency of
writes, kept in the shared database (`mendflow.store.limits`) and applied around each activity by a worker
interceptor, so no activity has to remember them.

- Every activity whose input names a `tenant_key` runs its vendor requests under the tenant's shared windows
  (`connectors.http.sharing_windows`): a worker takes requests from the window a few at a time and reports what
  the vendor says back, so all workers of a tenant together stay within the vendor's limit.
- A write activity (`change_resource`) first takes one of the tenant's concurrency slots (a lease the worker renews
  while the write runs; a killed worker's lease expires) and then one write of its per-minute budget. Restores are
  not held back: putting things back must never queue behind new writes.
- A chunk of writes (`apply_changes`) takes up to its concurrency of slots and one write of the budget per change,
  in one transaction; the activity runs its changes on the slots it got (`write_schedule().slots`) and sends each
  write no sooner than the budget says (`write_schedule().before_write(i)`).

Every wait heartbeats, so a long wait does not look like a dead worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from mendflow.connectors.http import sharing_windows
from mendflow.routing import Activity
from mendflow.settings import Settings
from mendflow.store.limits import TenantLimits

WRITE_ACTIVITIES = frozenset({Activity.change_resource.value})
"""Activities admitted by the tenant's concurrency slots and write budget, one write each."""
CHUNKED_WRITES = frozenset({Activity.apply_changes.value})
"""Activities admitted as a chunk: input `concurrency` slots wanted, one write per item of input `changes`."""
LEASE_TTL = 30.0
"""Seconds a concurrency slot stays held without renewal (how long a killed worker's slot stays taken)."""
LEASE_POLL = 0.1
"""How often a write waiting for a slot asks again."""
CHUNK = 32
"""Most requests a worker takes from a shared window at once (fewer when the window runs low)."""
LOW_SHARE = 0.1
"""Below this share of the window left, every answer is reported (above, only a new window is)."""


@dataclass(frozen=True)
class WriteSchedule:
    """What the tenant's shared limits allow a chunk of writes: how many at once, and when each may go out."""

    slots: int
    starts: list[float]
    """Per write, the monotonic time before which it must not be sent."""

    async def before_write(self, index: int, beat: Callable[[float], None]) -> None:
        """Wait until write `index` of the chunk is within the tenant's budget, calling `beat` with the seconds
        left at least once a second (the activity heartbeats its own details)."""
        while index < len(self.starts) and (left := self.starts[index] - time.monotonic()) > 0:
            beat(left)
            await asyncio.sleep(min(left, 1.0))


_schedule: ContextVar[WriteSchedule | None] = ContextVar("mendflow_write_schedule", default=None)


def write_schedule() -> WriteSchedule | None:
    """The running chunk's admission (None outside a worker that applies tenant limits)."""
    return _schedule.get()


def _bucket(name: str) -> str:
    return f"vendor:{name}"


class StoredWindows:
    """One tenant's vendor windows in the database, as one worker process uses them: requests are taken a few at a
    time and spent without asking; answers are reported when they open a new window or the window runs low.

    One take per bucket asks the database at a time, and the requests it got serve every task of the process: the
    tasks that ran out meanwhile wait for it rather than each asking at once (each took `CHUNK`, and each grant
    replaced the one before it, so a campaign asked three times as often as `CHUNK` says and dropped the rest).
    A "wait" answer holds the process's other tasks too, until then or until an answer reports the window."""

    def __init__(self, limits: TenantLimits, tenant: str) -> None:
        self.limits = limits
        self.tenant = tenant
        self._held: dict[str, tuple[int, float]] = {}
        """bucket → requests taken and not sent yet, and when the window they came from ends."""
        self._reset: dict[str, float] = {}
        self._unmetered: set[str] = set()
        self._taking: dict[str, asyncio.Lock] = {}
        """bucket → held while this process asks the database for more of its window."""
        self._blocked: dict[str, float] = {}
        """bucket → before this time (our clock) the database said there was nothing to take."""

    def _spend(self, bucket: str) -> bool:
        """Spend one of the requests held for `bucket`, if its window still lasts."""
        held, until = self._held.get(bucket, (0, 0.0))
        if held > 0 and self.limits.clock() < until:
            self._held[bucket] = (held - 1, until)
            return True
        return False

    async def take(self, bucket: str) -> float:
        if self._spend(bucket):
            return 0.0
        async with self._taking.setdefault(bucket, asyncio.Lock()):
            if self._spend(bucket):  # taken by the task that asked while this one waited
                return 0.0
            now = self.limits.clock()
            if (blocked := self._blocked.get(bucket, 0.0)) > now:
                return blocked - now
            grant = await asyncio.to_thread(self.limits.take_requests, self.tenant, _bucket(bucket), CHUNK)
            if not grant.granted:
                self._blocked[bucket] = now + grant.wait
                return grant.wait
            # What is still held has run out or its window ended: the grant replaces it. Kept only while its window
            # lasts (a window whose end is not known yet lends one at a time).
            self._held[bucket] = (grant.granted - 1, grant.until) if grant.until is not None else (0, 0.0)
            return 0.0

    async def report(self, bucket: str, *, limit: int, remaining: int, reset: float) -> None:
        seen = self._reset.get(bucket)
        if seen == reset and remaining > limit * LOW_SHARE:
            return  # same window, plenty left: the shared count already knows enough
        if seen is not None and reset > seen:
            self._held.pop(bucket, None)  # taken from the window that ended: spending them would overdraw this one
        self._reset[bucket] = reset
        await asyncio.to_thread(
            self.limits.observe_window, self.tenant, _bucket(bucket), limit=limit, remaining=remaining, reset=reset
        )
        self._blocked.pop(bucket, None)  # new figures: the next take asks again

    async def unanswered(self, bucket: str) -> None:
        if bucket not in self._unmetered and bucket not in self._reset:  # only a bucket still being probed
            await asyncio.to_thread(self.limits.release_probe, self.tenant, _bucket(bucket))
            self._blocked.pop(bucket, None)

    async def unmetered(self, bucket: str) -> None:
        if bucket not in self._unmetered:  # once per process and bucket: the row then lends freely
            self._unmetered.add(bucket)
            await asyncio.to_thread(self.limits.observe_unmetered, self.tenant, _bucket(bucket))
            self._blocked.pop(bucket, None)


async def _wait(seconds: float, why: str) -> None:
    """Sleep, heartbeating at least once a second."""
    left = seconds
    while left > 0:
        activity.heartbeat({"waiting_s": round(left, 1), "for": why})
        step = min(left, 1.0)
        await asyncio.sleep(step)
        left -= step


class TenantLimitsInterceptor(Interceptor):
    """Applies the tenant limits to every activity of this worker (see the module docstring)."""

    def __init__(self, limits: TenantLimits, settings: Settings) -> None:
        self.limits = limits
        self.settings = settings
        self._windows: dict[str, StoredWindows] = {}

    def windows(self, tenant: str) -> StoredWindows:
        """This process's view of the tenant's shared windows (one per tenant, so taken requests are reused)."""
        if tenant not in self._windows:
            self._windows[tenant] = StoredWindows(self.limits, tenant)
        return self._windows[tenant]

    @contextlib.asynccontextmanager
    async def admitted(self, tenant: str, holder: str, *, at: float) -> AsyncIterator[None]:
        """Hold one of the tenant's concurrency slots (renewed while held) and spend one write of its budget. `at`
        is when Temporal scheduled the write: the budget counts in Temporal's time, as the workflow's own pacing
        does (the same as the wall clock on a real server; in a time-skipping test, the skipped time counts)."""
        async with self.admitted_chunk(tenant, holder, slots=1, writes=1, at=at) as schedule:
            await _wait(schedule.starts[0] - time.monotonic(), "write budget")
            yield

    @contextlib.asynccontextmanager
    async def admitted_chunk(
        self, tenant: str, holder: str, *, slots: int, writes: int, at: float
    ) -> AsyncIterator[WriteSchedule]:
        """Hold up to `slots` of the tenant's concurrency slots (at least one; renewed while held) and reserve
        `writes` writes of its budget; yields when each write may go out."""
        changes = self.settings.changes
        limit, budget = changes.concurrency_for(tenant), changes.budget_for(tenant)
        admit = functools.partial(
            self.limits.admit_chunk,
            tenant,
            holder,
            slots=min(slots, limit),
            writes=writes,
            limit=limit,
            ttl=LEASE_TTL,
            per_minute=budget,
            at=at,
        )
        while (admission := await asyncio.to_thread(admit)) is None:
            await _wait(LEASE_POLL, f"one of {limit} concurrent writes")
        started = time.monotonic()
        renewing = asyncio.create_task(self._renew(tenant, admission.holders))
        try:
            yield WriteSchedule(slots=len(admission.holders), starts=[started + w for w in admission.waits])
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await asyncio.shield(asyncio.to_thread(self.limits.release_lease, tenant, admission.holders))

    async def _renew(self, tenant: str, holder: str | list[str]) -> None:
        while True:
            await asyncio.sleep(LEASE_TTL / 3)
            await asyncio.to_thread(self.limits.renew_lease, tenant, holder, ttl=LEASE_TTL)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self)


def _tenant_of(args: Any) -> str | None:
    """The tenant an activity works for: its single input model's `tenant_key`, if it has one."""
    if len(args) != 1:
        return None
    tenant = getattr(args[0], "tenant_key", None)
    return tenant if isinstance(tenant, str) and tenant else None


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, root: TenantLimitsInterceptor) -> None:
        super().__init__(next)
        self.root = root

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        tenant = _tenant_of(input.args)
        if tenant is None:
            return await super().execute_activity(input)
        info = activity.info()
        with sharing_windows(self.root.windows(tenant)):
            if info.activity_type not in WRITE_ACTIVITIES | CHUNKED_WRITES:
                return await super().execute_activity(input)
            # one holder per activity, whatever the attempt: a retry after a crash takes over the dead attempt's slot
            holder, at = f"{info.workflow_id}/{info.activity_id}", info.current_attempt_scheduled_time.timestamp()
            if info.activity_type in CHUNKED_WRITES:
                request = input.args[0]
                wanted = {"slots": int(request.concurrency), "writes": len(request.changes)}
                async with self.root.admitted_chunk(tenant, holder, at=at, **wanted) as schedule:
                    token = _schedule.set(schedule)
                    try:
                        return await super().execute_activity(input)
                    finally:
                        _schedule.reset(token)
            async with self.root.admitted(tenant, holder, at=at):
                return await super().execute_activity(input)


__all__ = [
    "CHUNK",
    "CHUNKED_WRITES",
    "LEASE_TTL",
    "WRITE_ACTIVITIES",
    "StoredWindows",
    "TenantLimitsInterceptor",
    "WriteSchedule",
    "write_schedule",
]
