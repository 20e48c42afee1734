"""An open change-window verdict ends at `open_until` (review of a8ea5c5 and the pipelined rollout, 5a40f27): the
campaign asks once, beside its first capture, and must ask again before writing once the verdict has ended."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from mendflow.campaigns.windows import ChangePolicy, FreezeWindow
from mendflow.routing import Activity
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from tests.workflows.campaigns import findings_for, hook_playbook
from tests.workflows.scale import ScaleOrg, campaign_input, scale_org
from tests.workflows.test_campaign_scale import _context

FREEZE_IN = timedelta(seconds=5)
"""The freeze starts this long after the test does: the campaign's first (and only) window check comes before."""


def _hold_first_read(org: ScaleOrg, path: str) -> threading.Event:
    """Behind the gate: the first GET of `path` (the canary's capture) waits until the returned event is set."""
    inner, release, held = org.gate.app, threading.Event(), [False]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == path and not held[0]:
            held[0] = True
            while not release.is_set():  # noqa: ASYNC110 - set from the test's thread
                await asyncio.sleep(0.02)
        await inner(scope, receive, send)

    org.gate.app = app
    return release


async def _first_verdict(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    """The result of the campaign's first `check_change_window`, once it has completed."""
    async with asyncio.timeout(30):
        while True:
            history = await handle.fetch_history()
            checks = {
                e.event_id
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                and e.activity_task_scheduled_event_attributes.activity_type.name == Activity.check_change_window
            }
            for e in history.events:
                done = e.activity_task_completed_event_attributes
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED and done.scheduled_event_id in checks:
                    verdict: dict[str, Any] = json.loads(done.result.payloads[0].data)
                    return verdict
            await asyncio.sleep(0.1)


async def test_a_freeze_starting_while_the_canary_is_captured_holds_the_canary(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A freeze starts 5 s after the campaign: the window check (open, until the freeze's start) comes before it,
    the canary's capture lands after it. Nothing is written: the campaign is frozen before its canary."""
    now = datetime.now(UTC)
    starts = now + FREEZE_IN
    if starts.date() != now.date() or starts.time() > time(23, 58):
        pytest.skip("the freeze window would cross midnight")
    freeze = FreezeWindow(start=starts.time(), end=time(23, 59, 59), tz="UTC")
    playbook = hook_playbook(mode="auto", extra="rollout: {canary: 1, batches: ['100%'], bake: 0s}")
    changes = ChangePolicy(freeze=(freeze,), default_writes_per_minute=100_000)
    with scale_org(3, monkeypatch=monkeypatch) as org:
        release = _hold_first_read(org, org.hooks[0])
        request = campaign_input(playbook, findings=findings_for(playbook, org.hooks))
        queue = f"q-{uuid.uuid4()}"
        context = _context(org.registry(), tmp_path, playbook, changes)
        async with build_worker(dev_env.client, context, task_queue=queue):
            handle = await dev_env.client.start_workflow(
                "RemediationWorkflow", request, id=request.campaign_id, task_queue=queue
            )
            try:
                verdict = await _first_verdict(handle)
                if datetime.now(UTC) >= starts:
                    pytest.skip("the machine took longer than the freeze's lead to ask the window")
                assert verdict["hold_until"] is None
                assert datetime.fromisoformat(verdict["open_until"]) <= starts + timedelta(seconds=1)
                await asyncio.sleep((starts - datetime.now(UTC)).total_seconds() + 0.5)
            finally:
                release.set()
            async with asyncio.timeout(60):  # a campaign that never gets there fails instead of hanging
                done = await wait_idle(dev_env.client, request.campaign_id)
    assert done.state == "frozen"
    assert org.gate.writes == []
