"""Scan schedules on the real Temporal dev server: apply is idempotent, follows config changes, deletes only its
own schedules; pause, resume and trigger; a triggered schedule runs a scan that records findings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    ScheduleSpec,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from mendflow.errors import InputError, Refused
from mendflow.runtime.worker import build_worker
from mendflow.scheduling import manage
from mendflow.scheduling.config import ScanSchedule
from mendflow.worker_context import WorkerContext
from tests.cli_in_process import Done, invoker

pytestmark = pytest.mark.slow


def every(tenant: str, interval: str, *, jitter: str = "0s", paused: bool = False) -> ScanSchedule:
    return ScanSchedule.model_validate({"tenant": tenant, "interval": interval, "jitter": jitter, "paused": paused})


@pytest.fixture
async def client(dev_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    """The dev server's client; every mendflow schedule a test made is gone afterwards."""
    yield dev_env.client
    for tenant in ("github:acme", "okta:acme.okta.com", "github:other"):
        with contextlib.suppress(RPCError):  # not created by this test
            await dev_env.client.get_schedule_handle(manage.schedule_id(tenant)).delete()


async def listed(client: Client, wanted: set[str]) -> list[str]:
    """Temporal's schedule list is eventually consistent: wait until it shows `wanted` (or 10 s)."""
    for _ in range(100):
        ids = await manage.managed_ids(client)
        if wanted <= set(ids):
            return ids
        await asyncio.sleep(0.1)
    raise AssertionError(f"{wanted} never listed")


async def test_applying_the_same_config_twice_gives_the_same_schedules(client: Client) -> None:
    """First apply creates (interval, jitter, overlap SKIP, paused as configured); the second changes nothing."""
    config = [every("github:acme", "1h", jitter="5m"), every("okta:acme.okta.com", "2h", paused=True)]
    first = await manage.apply(client, config, task_queue="q-apply")
    assert first.created == ["mendflow-scan:github:acme", "mendflow-scan:okta:acme.okta.com"]
    again = await manage.apply(client, config, task_queue="q-apply")
    assert again.unchanged == first.created and not (again.created or again.updated or again.deleted)
    github = await client.get_schedule_handle("mendflow-scan:github:acme").describe()
    assert github.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
    assert github.schedule.spec.jitter == timedelta(minutes=5)
    action = github.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "ScanWorkflow"
    assert action.task_queue == "q-apply"
    views = {v.tenant: v for v in [await manage.describe(client, t) for t in ("github:acme", "okta:acme.okta.com")]}
    assert (views["github:acme"].interval, views["github:acme"].jitter, views["github:acme"].paused) == (
        "1h",
        "5m",
        False,
    )
    assert views["okta:acme.okta.com"].paused and views["okta:acme.okta.com"].interval == "2h"


async def test_a_changed_interval_or_paused_state_updates_the_schedule(client: Client) -> None:
    """Apply 1h, then 30m: updated in place; `paused: true` in config pauses it; back to the same: unchanged."""
    await manage.apply(client, [every("github:acme", "1h")], task_queue="q-apply")
    changed = await manage.apply(client, [every("github:acme", "30m")], task_queue="q-apply")
    assert changed.updated == ["mendflow-scan:github:acme"]
    assert (await manage.describe(client, "github:acme")).interval == "30m"
    paused = await manage.apply(client, [every("github:acme", "30m", paused=True)], task_queue="q-apply")
    assert paused.updated == ["mendflow-scan:github:acme"] and (await manage.describe(client, "github:acme")).paused
    same = await manage.apply(client, [every("github:acme", "30m", paused=True)], task_queue="q-apply")
    assert same.unchanged == ["mendflow-scan:github:acme"]


async def test_schedules_dropped_from_config_are_deleted_and_others_left_alone(client: Client) -> None:
    """A mendflow schedule no longer configured is deleted; a schedule someone else made is not touched."""
    theirs = f"someone-else-{uuid.uuid4()}"
    await client.create_schedule(
        theirs,
        Schedule(
            action=ScheduleActionStartWorkflow("OtherWorkflow", id="other", task_queue="elsewhere"),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        ),
    )
    try:
        await manage.apply(client, [every("github:acme", "1h"), every("github:other", "1h")], task_queue="q")
        await listed(client, {"mendflow-scan:github:acme", "mendflow-scan:github:other"})
        result = await manage.apply(client, [every("github:acme", "1h")], task_queue="q")
        assert result.deleted == ["mendflow-scan:github:other"] and result.unchanged == ["mendflow-scan:github:acme"]
        assert (await client.get_schedule_handle(theirs).describe()).id == theirs
        with pytest.raises(InputError, match="no such schedule"):
            await manage.describe(client, "github:other")
    finally:
        await client.get_schedule_handle(theirs).delete()


async def test_a_triggered_schedule_runs_a_scan_that_records_findings(
    client: Client, worker_context: WorkerContext
) -> None:
    """Pause refuses a trigger; resume, trigger: a ScanWorkflow runs on the worker and the ledger fills."""
    queue = f"q-{uuid.uuid4()}"
    await manage.apply(client, [every("github:acme", "1d")], task_queue=queue)
    assert (await manage.pause(client, "github:acme", "maintenance")).paused
    with pytest.raises(Refused, match="paused"):
        await manage.trigger(client, "github:acme")
    assert not (await manage.resume(client, "github:acme", "")).paused
    assert worker_context.ledger.rows("github:acme") == []
    async with build_worker(client, worker_context, task_queue=queue):
        await manage.trigger(client, "github:acme")
        for _ in range(300):
            view = await manage.describe(client, "github:acme")
            if view.recent_scans:
                break
            await asyncio.sleep(0.1)
        scan_id = view.recent_scans[-1]
        assert scan_id.startswith("scan/github:acme/scheduled")
        await client.get_workflow_handle(scan_id).result()
    rows = worker_context.ledger.rows("github:acme")
    assert len(rows) > 10 and all(r.finding.risk is not None for r in rows)


async def test_the_cli_exit_codes(
    client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """0 applied/listed, 2 bad config or unknown tenant, 3 trigger of a paused schedule, 1 Temporal unreachable."""
    address = client.service_client.config.target_host
    for name in [k for k in os.environ if k.startswith("MENDFLOW_")]:
        monkeypatch.delenv(name)  # only what the command line says
    invoke = invoker(capsys, monkeypatch)  # in-process: ten CLI processes cost ~2 s of imports each

    async def cli(*args: str, address: str) -> Done:
        return await asyncio.to_thread(invoke, "schedules", *args, "--temporal-address", address)

    good = tmp_path / "mendflow.yaml"
    good.write_text("schedules:\n  - {tenant: 'github:acme', interval: 1h, jitter: 1m, paused: true}\n")
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n  - {key: 'github:other', provider: github, tenant: other, token: {ref: env:X}}\n")
    short = tmp_path / "short.yaml"
    short.write_text("schedules:\n  - {tenant: 'github:acme', interval: 5s}\n")

    def ok(done: Done) -> str:
        assert done.returncode == 0, done.stderr
        return done.stdout

    run = await cli("apply", "--config", str(good), address=address)
    assert "created    mendflow-scan:github:acme" in ok(run)
    again = await cli("apply", "--config", str(good), "--format", "json", address=address)
    assert '"unchanged":["mendflow-scan:github:acme"]' in ok(again)
    await listed(client, {"mendflow-scan:github:acme"})
    shown = ok(await cli("list", "--format", "json", address=address))
    assert '"tenant":"github:acme"' in shown and '"paused":true' in shown
    for args, code, words in [
        (["apply"], 2, "--config"),
        (["apply", "--config", str(short)], 2, "shorter than 1m"),
        (["apply", "--config", str(good), "--tenants", str(tenants)], 2, "not in"),
        (["pause", "github:nobody"], 2, "no such schedule"),
        (["trigger", "github:acme"], 3, "paused"),
        (["list", "--format", "yaml"], 2, "table or json"),
    ]:
        done = await cli(*args, address=address)
        assert done.returncode == code and words in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    down = await cli("list", address="127.0.0.1:9")
    assert down.returncode == 1 and "cannot reach Temporal" in down.stderr
