"""Periodic scans as Temporal Schedules: created and updated from config, listed, paused, resumed, triggered.

    schedules: in mendflow.yaml ──apply──> one schedule per tenant, id `mendflow-scan:<tenant key>`
        interval + jitter, overlap SKIP (a scan still running when the next is due: the next is skipped),
        catch-up window of one interval (after an outage one scan runs, not a backlog)
        action: the ScanWorkflow `mendflow scan --tenant` starts (`runtime.scans.scan_action`)
    schedules with our prefix that the config no longer names are deleted; others in the namespace are left alone

Schedules only start scans, which read tenants and open campaigns that still go through every approval gate, so
managing them is a host-side admin action against Temporal, like `mendflow scan --tenant` and `mendflow worker`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from mendflow.errors import ConnectionProblem, InputError, Refused
from mendflow.runtime.client import TASK_QUEUE
from mendflow.runtime.scans import SCAN_WORKFLOW, scan_action
from mendflow.scheduling.config import ScanSchedule, format_duration

PREFIX = "mendflow-scan:"
"""Schedule ids mendflow owns: this prefix and a tenant key. Nothing else in the namespace is touched."""
NOTE = "managed by mendflow schedules apply"


def schedule_id(tenant: str) -> str:
    return PREFIX + tenant


class ScheduleView(BaseModel):
    """One scan schedule as Temporal has it."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    interval: str
    jitter: str
    paused: bool
    note: str
    next_runs: list[datetime]
    recent_scans: list[str]
    """Workflow ids of the latest scheduled scans, newest last."""


class ApplyResult(BaseModel):
    """What `apply` did, schedule ids by outcome."""

    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    deleted: list[str] = []


def desired(item: ScanSchedule, *, task_queue: str = TASK_QUEUE) -> Schedule:
    return Schedule(
        action=scan_action(item.tenant, task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=item.interval)], jitter=item.jitter),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=item.interval),
        state=ScheduleState(paused=item.paused, note=NOTE),
    )


def _same(have: Schedule, want: Schedule) -> bool:
    """The parts apply manages (the paused state is compared separately)."""
    a, b = have.action, want.action
    return (
        isinstance(a, ScheduleActionStartWorkflow)
        and isinstance(b, ScheduleActionStartWorkflow)
        and (a.workflow, a.id, a.task_queue) == (b.workflow, b.id, b.task_queue)
        and [i.every for i in have.spec.intervals] == [i.every for i in want.spec.intervals]
        and (have.spec.jitter or timedelta(0)) == (want.spec.jitter or timedelta(0))
        and have.policy.overlap == want.policy.overlap
        and have.policy.catchup_window == want.policy.catchup_window
    )


def _translate(err: RPCError, what: str) -> Exception:
    if err.status == RPCStatusCode.NOT_FOUND:
        return InputError(f"{what}: no such schedule (create it with `mendflow schedules apply`)")
    if err.status == RPCStatusCode.PERMISSION_DENIED:
        return Refused(f"{what}: Temporal refused it: {err.message}")
    if err.status == RPCStatusCode.INVALID_ARGUMENT:
        return InputError(f"{what}: Temporal refused it as invalid: {err.message}")
    return ConnectionProblem(f"{what}: Temporal failed: {err.message}")


async def managed_ids(client: Client) -> list[str]:
    """Ids of the schedules mendflow created (Temporal's list is eventually consistent: a schedule created a
    moment ago may be missing)."""
    try:
        return sorted([s.id async for s in await client.list_schedules() if s.id.startswith(PREFIX)])
    except RPCError as err:
        raise _translate(err, "listing schedules") from None


async def apply(client: Client, schedules: Iterable[ScanSchedule], *, task_queue: str = TASK_QUEUE) -> ApplyResult:
    """Make Temporal's scan schedules what the config says: create, update, pause/resume, delete; idempotent."""
    result = ApplyResult()
    wanted = {schedule_id(s.tenant): s for s in schedules}
    for sid, item in sorted(wanted.items()):
        want = desired(item, task_queue=task_queue)
        try:
            await client.create_schedule(sid, want)
            result.created.append(sid)
            continue
        except ScheduleAlreadyRunningError:
            pass
        except RPCError as err:
            raise _translate(err, f"creating {sid}") from None
        handle = client.get_schedule_handle(sid)
        try:
            have = await handle.describe()
            changed = not _same(have.schedule, want)
            if changed:

                def update(current: ScheduleUpdateInput, want: Schedule = want) -> ScheduleUpdate:
                    state = current.description.schedule.state  # keep the paused state; set below
                    return ScheduleUpdate(schedule=Schedule(action=want.action, spec=want.spec, policy=want.policy,
                                                            state=state))  # fmt: skip

                await handle.update(update)
            if have.schedule.state.paused != item.paused:
                changed = True
                await (handle.pause(note=NOTE) if item.paused else handle.unpause(note=NOTE))
        except RPCError as err:
            raise _translate(err, f"updating {sid}") from None
        (result.updated if changed else result.unchanged).append(sid)
    for sid in await managed_ids(client):
        if sid not in wanted:
            try:
                await client.get_schedule_handle(sid).delete()
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise _translate(err, f"deleting {sid}") from None
            result.deleted.append(sid)
    return result


def _view(description: ScheduleDescription) -> ScheduleView:
    schedule, info = description.schedule, description.info
    recent = [a.action.workflow_id for a in info.recent_actions if hasattr(a.action, "workflow_id")]
    return ScheduleView(
        id=description.id,
        tenant=description.id.removeprefix(PREFIX),
        interval=", ".join(format_duration(i.every) for i in schedule.spec.intervals),
        jitter=format_duration(schedule.spec.jitter or timedelta(0)),
        paused=schedule.state.paused,
        note=schedule.state.note or "",
        next_runs=list(info.next_action_times[:3]),
        recent_scans=recent,
    )


async def _handle(client: Client, tenant: str, what: str) -> tuple[ScheduleHandle, ScheduleDescription]:
    """The schedule of `tenant`; only schedules mendflow made are ever reached (their id is derived)."""
    handle = client.get_schedule_handle(schedule_id(tenant))
    try:
        description = await handle.describe()
    except RPCError as err:
        raise _translate(err, f"{what} the scan schedule of {tenant}") from None
    action = description.schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow) or action.workflow != SCAN_WORKFLOW:
        raise Refused(f"{schedule_id(tenant)} does not start mendflow scans; not touching it")
    return handle, description


async def describe(client: Client, tenant: str) -> ScheduleView:
    return _view((await _handle(client, tenant, "describing"))[1])


async def list_all(client: Client) -> list[ScheduleView]:
    views = []
    for sid in await managed_ids(client):
        try:
            views.append(_view(await client.get_schedule_handle(sid).describe()))
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # deleted between the list and now
                raise _translate(err, f"describing {sid}") from None
    return views


async def pause(client: Client, tenant: str, note: str) -> ScheduleView:
    return await _switch(client, tenant, note, paused=True)


async def resume(client: Client, tenant: str, note: str) -> ScheduleView:
    return await _switch(client, tenant, note, paused=False)


async def _switch(client: Client, tenant: str, note: str, *, paused: bool) -> ScheduleView:
    """Pause or resume one tenant's schedule: the same lookup, errors and default note for both directions."""
    doing, verb = ("pausing", "pause") if paused else ("resuming", "resume")
    handle, _ = await _handle(client, tenant, doing)
    note = note or f"{verb}d with mendflow schedules {verb}"
    try:
        await (handle.pause(note=note) if paused else handle.unpause(note=note))
    except RPCError as err:
        raise _translate(err, f"{doing} {handle.id}") from None
    return _view(await handle.describe())


async def trigger(client: Client, tenant: str) -> ScheduleView:
    """Start one scan now (a paused schedule refuses: resume it, or run `mendflow scan --tenant`)."""
    handle, description = await _handle(client, tenant, "triggering")
    if description.schedule.state.paused:
        raise Refused(f"the scan schedule of {tenant} is paused; resume it first (or run `mendflow scan --tenant`)")
    try:
        await handle.trigger(overlap=ScheduleOverlapPolicy.SKIP)
    except RPCError as err:
        raise _translate(err, f"triggering {handle.id}") from None
    return _view(await handle.describe())


__all__ = [
    "NOTE",
    "PREFIX",
    "ApplyResult",
    "ScheduleView",
    "apply",
    "describe",
    "desired",
    "list_all",
    "managed_ids",
    "pause",
    "resume",
    "schedule_id",
    "trigger",
]
