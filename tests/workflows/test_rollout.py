"""Rollouts: rollback after completion, pause/resume, abort then rollback, freeze windows, the write budget."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from mendflow.campaigns.windows import DAYS, ChangePolicy, FreezeWindow
from mendflow.models import Outcome
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, OperatorRequest
from tests.conftest import SimulatedOrg
from tests.signing import signed_request
from tests.workflows.campaigns import RBAC, hook_configs, hook_playbook, settings, start_campaign


def operator(handle, verb: str, person: str, reason: str = "on-call") -> OperatorRequest:  # type: ignore[no-untyped-def]
    """`verb` by `person`, signed the way the API signs it."""
    return signed_request(handle.id, verb, person, RBAC, reason)


def context(org: SimulatedOrg, tmp_path: Path, playbook, changes=None) -> WorkerContext:  # type: ignore[no-untyped-def]
    return WorkerContext(
        registry=org.registry(), data_dir=tmp_path / "d", playbooks={playbook.id: playbook}, settings=settings(changes)
    )


async def status_of(handle) -> CampaignStatus:  # type: ignore[no-untyped-def]
    result: CampaignStatus = await handle.query("status", result_type=CampaignStatus)
    return result


async def until_state(handle, *states: str) -> CampaignStatus:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(30):
        while (status := await status_of(handle)).state not in states:  # noqa: ASYNC110 - polling a query
            await asyncio.sleep(0.02)
    return status


async def test_completed_campaign_rolls_back_to_the_captured_state(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """`rollback` after completion restores every changed field, newest first, and verifies the restore."""
    playbook = hook_playbook(mode="auto")
    before = hook_configs(github_org.state)
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context(github_org, tmp_path, playbook), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook)
        done = await handle.execute_update("wait_idle", result_type=CampaignStatus)
        assert done.state == "completed" and hook_configs(github_org.state) != before
        message = await handle.execute_update("rollback", operator(handle, "rollback", "alice"), result_type=str)
        assert "rollback starts" in message
        result = await handle.result()
        final = await status_of(handle)
    assert result.outcome == "rolled_back"
    assert [c.outcome for c in result.changes] == [Outcome.restored, Outcome.restored]
    assert hook_configs(github_org.state) == before
    restores = [e["detail"] for e in final.timeline if e["event"] == "restored"]
    assert [d.split(" ")[0] for d in restores] == ["/repos/acme/web/hooks/21", "/repos/acme/api/hooks/11"]


async def test_pause_holds_the_rollout_between_resources_until_resumed(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """Paused during the bake, the next batch waits; resume lets it finish."""
    playbook = hook_playbook(mode="auto", bake="10m")
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context(github_org, tmp_path, playbook), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook)
        await until_state(handle, "baking")
        await handle.execute_update("pause", operator(handle, "pause", "bob"), result_type=str)
        await time_env.sleep(timedelta(minutes=11))  # the bake ends while paused
        paused = await until_state(handle, "paused")
        assert [c.outcome for c in paused.changes] == [Outcome.verified, Outcome.planned]
        await handle.execute_update("resume", operator(handle, "resume", "bob"), result_type=str)
        done = await handle.execute_update("wait_idle", result_type=CampaignStatus)
    assert done.state == "completed" and [c.outcome for c in done.changes] == [Outcome.verified] * 2


async def test_abort_stops_before_the_next_resource_and_rollback_undoes_the_rest(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """Abort (here while paused) keeps the canary change and says so; a rollback restores it; the rest is untouched."""
    playbook = hook_playbook(mode="auto", bake="10m")
    before = hook_configs(github_org.state)
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context(github_org, tmp_path, playbook), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook)
        await until_state(handle, "baking")
        await handle.execute_update("pause", operator(handle, "pause", "carol"), result_type=str)
        await time_env.sleep(timedelta(minutes=11))
        await until_state(handle, "paused")
        message = await handle.execute_update("abort", operator(handle, "abort", "carol"), result_type=str)
        assert "changed ones stay changed" in message
        aborted = await until_state(handle, "aborted")
        assert [c.outcome for c in aborted.changes] == [Outcome.verified, Outcome.planned]
        assert hook_configs(github_org.state)[11]["insecure_ssl"] == "0"
        assert hook_configs(github_org.state)[21] == before[21]
        await handle.execute_update("rollback", operator(handle, "rollback", "carol"), result_type=str)
        result = await handle.result()
    assert result.outcome == "rolled_back" and hook_configs(github_org.state) == before


async def test_freeze_window_holds_the_rollout_until_it_ends(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """No write happens inside the freeze; the first write comes after the window's end."""
    today = DAYS[datetime.now(UTC).weekday()]
    changes = ChangePolicy(freeze=(FreezeWindow(days=(today,), tz="UTC"),))
    playbook = hook_playbook(mode="auto")
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context(github_org, tmp_path, playbook, changes), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook, retention=timedelta(hours=1))
        result = await handle.result()
        final = await status_of(handle)
    assert result.outcome == "completed"
    held = next(e for e in final.timeline if e["event"] == "held by freeze window")
    until = datetime.fromisoformat(held["detail"].removeprefix("until "))
    first_write = next(e for e in final.timeline if e["event"] == "verified")
    assert datetime.fromisoformat(first_write["at"]) >= until > datetime.fromisoformat(held["at"])


async def test_a_campaign_held_by_a_freeze_is_idle_for_whoever_follows_it(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """`wait_idle` answers `frozen` at once (a freeze can last hours: `scan --tenant` once blocked until its end), and
    an abort then ends the campaign at once with nothing written (it slept until the freeze's end first)."""
    today = DAYS[datetime.now(UTC).weekday()]
    changes = ChangePolicy(freeze=(FreezeWindow(days=(today,), tz="UTC"),))
    playbook = hook_playbook(mode="auto")
    before = hook_configs(github_org.state)
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, context(github_org, tmp_path, playbook, changes), task_queue=queue):
        handle = await start_campaign(dev_env.client, queue, playbook, retention=timedelta(hours=1))
        async with asyncio.timeout(30):
            idle = await wait_idle(dev_env.client, handle.id)
        assert idle.state == "frozen"
        assert hook_configs(github_org.state) == before
        aborted = await handle.execute_update("abort", operator(handle, "abort", "alice"), result_type=str)
        async with asyncio.timeout(30):
            result = await handle.result()
    assert aborted.startswith("aborted")
    assert result.outcome == "aborted" and hook_configs(github_org.state) == before


async def test_write_budget_paces_the_rollout(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """With a budget of one write per minute, the second write waits a minute of workflow time."""
    changes = ChangePolicy(writes_per_minute={"github:acme": 1})
    playbook = hook_playbook(mode="auto")
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context(github_org, tmp_path, playbook, changes), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook, retention=timedelta(hours=1))
        await handle.result()
        final = await status_of(handle)
    writes = [datetime.fromisoformat(e["at"]) for e in final.timeline if e["event"] == "verified"]
    assert len(writes) == 2 and writes[1] - writes[0] >= timedelta(seconds=59)


async def test_a_capture_older_than_ten_minutes_is_taken_again_before_writing(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """During a 30-minute bake someone fixes the second hook by hand: the rollout captures it again before
    writing, finds it compliant and skips it (no write from a stale capture) — and says so."""
    playbook = hook_playbook(mode="auto", bake="30m")
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context(github_org, tmp_path, playbook), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook)
        baking = await until_state(handle, "baking")
        assert [c.outcome for c in baking.changes] == [Outcome.verified, Outcome.planned]
        second = baking.changes[1].resource.id
        (hook,) = [
            h
            for repo in ("api", "web")
            for h in github_org.state.repo(repo)["_hooks"]
            if second.endswith(f"/{h['id']}")
        ]
        hook["config"]["insecure_ssl"] = "0"  # fixed by a person while the rollout bakes
        await time_env.sleep(timedelta(minutes=31))
        done = await handle.execute_update("wait_idle", result_type=CampaignStatus)
    assert done.state == "completed"
    assert [c.outcome for c in done.changes] == [Outcome.verified, Outcome.skipped]
    again = [e for e in done.timeline if e["event"] == "captured again"]
    assert len(again) == 1 and again[0]["detail"].startswith("1 target(s)")
