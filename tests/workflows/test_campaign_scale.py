"""Campaigns of any size: continue-as-new keeps rollback, parallel targets within the concurrency limit, heartbeats
through rate-limit waits, and the history budget of a 2,000-target campaign."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from mendflow.campaigns.windows import ChangePolicy
from mendflow.models import Outcome
from mendflow.playbooks.model import Playbook
from mendflow.routing import Activity
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, RemediationResult
from tests.conftest import SimulatedOrg
from tests.workflows.campaigns import HOOKS, findings_for, hook_configs, hook_playbook, settings
from tests.workflows.scale import (
    Stopwatch,
    campaign_input,
    history_bytes,
    run_histories,
    scale_org,
)
from tests.workflows.test_rollout import operator, until_state

HISTORY_LIMIT = 50 * 1024 * 1024
"""The Temporal server's default history size limit (`limit.historySize.error`)."""
BYTES_PER_TARGET = 2_500
"""The campaign's history budget (docs/scaling.md): bytes of history per target, over all runs."""


def _context(registry, tmp_path: Path, playbook: Playbook, changes: ChangePolicy) -> WorkerContext:  # type: ignore[no-untyped-def]
    return WorkerContext(
        registry=registry,
        data_dir=tmp_path / "d",
        playbooks={playbook.id: playbook},
        settings=settings(changes),
    )


async def test_rollback_after_continue_as_new_restores_every_run_newest_first(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """A campaign that continued as new after every page still rolls back every change, newest first."""
    playbook = hook_playbook(mode="auto")
    before = hook_configs(github_org.state)
    queue = f"q-{uuid.uuid4()}"
    context = _context(github_org.registry(), tmp_path, playbook, ChangePolicy())
    request = campaign_input(playbook, findings=findings_for(playbook), page_size=1, history_budget_bytes=1)
    async with build_worker(time_env.client, context, task_queue=queue):
        await time_env.client.start_workflow(
            "RemediationWorkflow", request, id=request.campaign_id, task_queue=queue, result_type=RemediationResult
        )
        done = await wait_idle(time_env.client, request.campaign_id)
        assert done.state == "completed" and done.runs >= 2
        assert done.totals == {"verified": 2} and hook_configs(github_org.state) != before
        latest = time_env.client.get_workflow_handle(request.campaign_id, result_type=RemediationResult)
        message = await latest.execute_update("rollback", operator(latest, "rollback", "alice"), result_type=str)
        assert "rollback starts" in message
        result = await latest.result()
        final = await latest.query("status", result_type=CampaignStatus)
    assert result.outcome == "rolled_back" and final.totals == {"restored": 2}
    assert hook_configs(github_org.state) == before
    verified = [e["detail"] for e in final.timeline if e["event"] == "verified"]
    restored = [str(e["detail"]).split(" ")[0] for e in final.timeline if e["event"] == "restored"]
    assert verified == HOOKS and restored == HOOKS[::-1]


async def test_targets_captured_ahead_while_the_last_batch_starts_are_all_changed(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 10: the second page's capture is still running (slow first reads) when the last batch takes the
    targets ready so far; every target of all three pages is still changed and verified (a capture
    that landed in a list the rollout had already replaced once lost its whole page)."""
    playbook = hook_playbook(mode="auto", extra="rollout: {canary: 1, batches: ['10%', '100%'], bake: 0s}")
    changes = ChangePolicy(default_concurrency=4, default_writes_per_minute=10_000)
    with scale_org(30, monkeypatch=monkeypatch, gate={"first_read_delay": 0.3}) as org:
        queue = f"q-{uuid.uuid4()}"
        request = campaign_input(playbook, findings=findings_for(playbook, org.hooks), page_size=10)
        async with build_worker(
            dev_env.client, _context(org.registry(), tmp_path, playbook, changes), task_queue=queue
        ):
            await dev_env.client.start_workflow(
                "RemediationWorkflow", request, id=request.campaign_id, task_queue=queue
            )
            done = await wait_idle(dev_env.client, request.campaign_id)
    assert done.state == "completed" and done.totals == {"verified": 30} and org.insecure() == 0


async def test_a_page_captured_ahead_while_stale_targets_are_captured_again_is_kept(
    time_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a 15-minute bake the first page's targets are captured again (slow reads) while the second page's
    capture, started at the same moment, lands first: every target of both pages is still changed (a recapture
    that replaced the ready list after its await once dropped the page that had landed meanwhile)."""
    playbook = hook_playbook(mode="auto", bake="15m")
    changes = ChangePolicy(default_concurrency=4, default_writes_per_minute=10_000)
    with scale_org(20, monkeypatch=monkeypatch) as org:
        org.gate.slow_reads, org.gate.read_delay = tuple(org.hooks[:10]), 0.4
        queue = f"q-{uuid.uuid4()}"
        request = campaign_input(playbook, findings=findings_for(playbook, org.hooks), page_size=10)
        async with build_worker(
            time_env.client, _context(org.registry(), tmp_path, playbook, changes), task_queue=queue
        ):
            handle = await time_env.client.start_workflow(
                "RemediationWorkflow", request, id=request.campaign_id, task_queue=queue
            )
            await until_state(handle, "baking")
            await time_env.sleep(timedelta(minutes=16))
            done = await handle.execute_update("wait_idle", result_type=CampaignStatus)
    again = [e for e in done.timeline if e["event"] == "captured again"]
    assert again and done.state == "completed" and done.totals == {"verified": 20} and org.insecure() == 0


@pytest.mark.slow
async def test_a_batch_changes_targets_in_parallel_up_to_the_tenant_limit(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve targets with a concurrency limit of 4: up to 4 writes at once, never more; every one verified."""
    playbook = hook_playbook(mode="auto")
    changes = ChangePolicy(default_concurrency=4, default_writes_per_minute=10_000)
    with scale_org(12, monkeypatch=monkeypatch, gate={"write_delay": 0.5}) as org:
        queue = f"q-{uuid.uuid4()}"
        request = campaign_input(playbook, findings=findings_for(playbook, org.hooks))
        async with build_worker(
            dev_env.client, _context(org.registry(), tmp_path, playbook, changes), task_queue=queue
        ):
            handle = await dev_env.client.start_workflow(
                "RemediationWorkflow", request, id=request.campaign_id, task_queue=queue
            )
            done = await wait_idle(dev_env.client, handle.id)
        assert done.state == "completed" and done.totals == {"verified": 12}
        assert org.gate.max_inflight == 4 and org.insecure() == 0


@pytest.mark.slow
async def test_failures_past_the_threshold_stop_parallel_changes_and_roll_everything_back(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every change fails verification: the rollout stops after max_failures, in-flight changes finish, and
    every written resource is restored; targets never reached are not written."""
    stubborn = Playbook.model_validate(
        hook_playbook(
            mode="auto", extra="rollout: {canary: 1, batches: ['100%'], bake: 0s, max_failures: 2}"
        ).model_dump(by_alias=True)
        | {
            "detect": {
                "when": 'string(resource.config.insecure_ssl) == "1" || resource.config.url != ""',
                "severity": "high",
            }
        }
    )
    changes = ChangePolicy(default_concurrency=4, default_writes_per_minute=10_000)
    with scale_org(40, monkeypatch=monkeypatch, gate={"write_delay": 0.05}) as org:
        queue = f"q-{uuid.uuid4()}"
        request = campaign_input(stubborn, findings=findings_for(stubborn, org.hooks))
        async with build_worker(
            dev_env.client, _context(org.registry(), tmp_path, stubborn, changes), task_queue=queue
        ):
            await dev_env.client.start_workflow(
                "RemediationWorkflow", request, id=request.campaign_id, task_queue=queue
            )
            done = await wait_idle(dev_env.client, request.campaign_id)
    assert done.state == "rolled_back"
    assert org.insecure() == 40  # every write was put back
    written = {path for path in org.gate.writes}
    assert 3 <= len(written) <= 10, written  # stopped at the third failure, with what was in flight
    assert set(done.totals) <= {Outcome.restored.value, Outcome.planned.value}


@pytest.mark.slow
async def test_a_rate_limit_wait_longer_than_the_heartbeat_timeout_does_not_kill_the_attempt(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vendor asks for 5 s of patience, the heartbeat timeout is 2 s: the step heartbeats while it waits and
    finishes in its first attempt."""
    playbook = hook_playbook(mode="auto")
    with scale_org(2, monkeypatch=monkeypatch) as org:
        org.gate.limit_first_write_to, org.gate.retry_after = org.hooks[0] + "/config", 5
        queue = f"q-{uuid.uuid4()}"
        request = campaign_input(
            playbook, findings=findings_for(playbook, org.hooks), step_heartbeat=timedelta(seconds=2)
        )
        context = _context(org.registry(), tmp_path, playbook, ChangePolicy(default_writes_per_minute=10_000))
        async with build_worker(dev_env.client, context, task_queue=queue):
            handle = await dev_env.client.start_workflow(
                "RemediationWorkflow", request, id=request.campaign_id, task_queue=queue
            )
            clock = Stopwatch()
            done = await wait_idle(dev_env.client, handle.id)
        history = await handle.fetch_history()
    assert org.gate.limited == 1 and clock.seconds >= 5
    assert done.state == "completed" and done.totals == {"verified": 2}
    scheduled = {
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == Activity.apply_changes
    }
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id in scheduled
    ]
    assert attempts == [1, 1]


@pytest.mark.slow
async def test_a_2000_target_campaign_keeps_every_history_within_budget(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,000 targets by digest: completes, continues as new, no history above 10% of the server's limit or past
    the run's own budget, and the whole campaign within its bytes-per-target budget."""
    targets = 2_000
    playbook = hook_playbook(mode="auto")
    changes = ChangePolicy(default_concurrency=8, default_writes_per_minute=1_000_000)
    with scale_org(targets, monkeypatch=monkeypatch) as org:
        queue = f"q-{uuid.uuid4()}"
        context = _context(org.registry(), tmp_path, playbook, changes)
        digest = context.snapshots.put_lines([f.model_dump(mode="json") for f in findings_for(playbook, org.hooks)])
        # a budget below the default, so that this campaign (about 1.2 kB of history per target) continues as new
        request = campaign_input(
            playbook, findings_digest=digest, findings_count=targets, history_budget_bytes=1_000_000
        )
        clock = Stopwatch()
        async with build_worker(dev_env.client, context, task_queue=queue):
            handle = await dev_env.client.start_workflow(
                "RemediationWorkflow", request, id=request.campaign_id, task_queue=queue
            )
            done = await wait_idle(dev_env.client, request.campaign_id)
            seconds = clock.seconds
        histories = await run_histories(dev_env.client, request.campaign_id, handle.first_execution_run_id or "")
        insecure = org.insecure()
    sizes = [history_bytes(h) for h in histories]
    print(f"\n{targets} targets in {seconds:.1f}s over {len(sizes)} runs; history bytes per run {sizes}; "
          f"{sum(sizes) / targets:.0f} B/target")  # fmt: skip
    assert done.state == "completed" and done.totals == {"verified": targets} and insecure == 0
    assert len(histories) == done.runs >= 2
    assert max(sizes) <= HISTORY_LIMIT // 10
    assert sum(sizes) / targets <= BYTES_PER_TARGET
    # Each run within 5% of the budget it aims at (checked against its size alone, a run ended 60% past it).
    assert max(sizes) <= request.history_budget_bytes * 1.05
