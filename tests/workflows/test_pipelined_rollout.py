"""The pipelined rollout (`PIPELINED_ROLLOUT`): the canary is written before the rest of its page is read, the last
batch's chunks run on across page boundaries, a batch's last targets are split evenly between the lanes, the
ledger's pages are settled at once, and an open change window is not asked again before every batch. Each test
reads what happened from the vendor's side (the gate) or from the campaign's history, and fails on the rollout as
it was before."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from mendflow.campaigns.windows import DAYS, ChangePolicy, FreezeWindow
from mendflow.routing import Activity
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from mendflow.workflow_types import CampaignStatus
from tests.conftest import SimulatedOrg
from tests.workflows.campaigns import findings_for, hook_playbook
from tests.workflows.scale import ScaleOrg, campaign_input, scale_org
from tests.workflows.test_campaign_scale import _context
from tests.workflows.test_rollout import context


async def _campaign(
    env: WorkflowEnvironment, org: ScaleOrg, tmp_path: Path, rollout: str, *, concurrency: int, page_size: int
) -> tuple[CampaignStatus, WorkflowHistory]:
    playbook = hook_playbook(mode="auto", extra=f"rollout: {rollout}")
    changes = ChangePolicy(default_concurrency=concurrency, default_writes_per_minute=100_000)
    request = campaign_input(playbook, findings=findings_for(playbook, org.hooks), page_size=page_size)
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(env.client, _context(org.registry(), tmp_path, playbook, changes), task_queue=queue):
        await env.client.start_workflow("RemediationWorkflow", request, id=request.campaign_id, task_queue=queue)
        done = await wait_idle(env.client, request.campaign_id)
    return done, await env.client.get_workflow_handle(request.campaign_id).fetch_history()


def _activities(history: WorkflowHistory, name: str) -> list[tuple[int, int | None, dict[str, object]]]:
    """(event id scheduled, event id completed or None, input) of each `name` activity, in schedule order."""
    scheduled = {
        e.event_id: json.loads(e.activity_task_scheduled_event_attributes.input.payloads[0].data)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == name
    }
    completed = {
        e.activity_task_completed_event_attributes.scheduled_event_id: e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    }
    return [(sid, completed.get(sid), given) for sid, given in scheduled.items()]


def _most_at_once(spans: list[tuple[int, int | None, dict[str, object]]]) -> int:
    edges = sorted([(s, 1) for s, _, _ in spans] + [(c, -1) for _, c, _ in spans if c is not None])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


async def test_the_canary_is_written_before_the_rest_of_its_page_is_read(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 10, canary 1 then 3 then the rest: the first capture reads the canary alone, the next batch's
    targets are read while the canary changes, and no target past them is read before the canary's write
    (before, the whole first page was read first). The change window is asked once: its open verdict holds
    for the three batches (before, once per batch)."""
    with scale_org(30, monkeypatch=monkeypatch) as org:
        done, history = await _campaign(
            dev_env, org, tmp_path, "{canary: 1, batches: [3, '100%'], bake: 0s}", concurrency=4, page_size=10
        )
        seen = list(org.gate.seen)
        assert done.state == "completed" and done.totals == {"verified": 30} and org.insecure() == 0
    canary_write = seen.index(("PATCH", f"{org.hooks[0]}/config"))
    later_reads = [i for i, (method, path) in enumerate(seen) if method == "GET" and path in org.hooks[4:]]
    assert later_reads and canary_write < min(later_reads)
    assert len(_activities(history, Activity.check_change_window)) == 1


async def test_the_last_batch_runs_on_across_pages_while_a_slow_chunk_finishes(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrency 2 (two lanes of one), pages of 4 = one chunk each: a slow target holds its page's chunk, and
    the next page's chunk starts beside it (before, each page waited for its last chunk: one chunk at a time)."""
    with scale_org(13, monkeypatch=monkeypatch) as org:
        org.gate.slow_reads, org.gate.read_delay = (org.hooks[2],), 0.6
        done, history = await _campaign(
            dev_env, org, tmp_path, "{canary: 1, batches: ['100%'], bake: 0s}", concurrency=2, page_size=4
        )
        assert done.state == "completed" and done.totals == {"verified": 13} and org.insecure() == 0
    chunks = _activities(history, Activity.apply_changes)
    assert [len(given["changes"]) for _, _, given in chunks][:1] == [1]  # type: ignore[arg-type]
    assert _most_at_once(chunks[1:]) == 2


async def test_a_batchs_last_targets_are_split_evenly_and_the_ledger_settled_at_once(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrency 8: lanes of 4, chunks of 16. A batch of 20 goes out as 10 + 10 (before: 16 + 4, the second lane
    idle while the first wrote 16); the findings' two ledger pages are settled together."""
    with scale_org(21, monkeypatch=monkeypatch) as org:
        done, history = await _campaign(
            dev_env, org, tmp_path, "{canary: 1, batches: ['100%'], bake: 0s}", concurrency=8, page_size=20
        )
        assert done.state == "completed" and done.totals == {"verified": 21} and org.insecure() == 0
    sizes = [len(given["changes"]) for _, _, given in _activities(history, Activity.apply_changes)]  # type: ignore[arg-type]
    assert sizes == [1, 10, 10]
    settles = _activities(history, Activity.settle_findings)
    assert len(settles) == 2 and _most_at_once(settles) == 2


async def test_a_run_that_continued_as_new_asks_the_window_before_writing_into_a_freeze(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """Pages of one and a 1-byte budget: the second hook is written by a run that continued as new, after a minute's
    write-budget wait (one write a minute). A freeze starts during that wait: the write waits for its end (a run
    that continued as new carried no verdict and never asked again; a verdict that ran out during the budget wait
    was not asked again either)."""
    now = datetime.now(UTC)
    start = (now + timedelta(seconds=75)).replace(second=0, microsecond=0)
    end = start + timedelta(minutes=10)
    if end.date() != now.date():
        pytest.skip("the freeze would cross midnight (windows are times of one day)")
    freeze = FreezeWindow(days=(DAYS[start.weekday()],), start=start.time(), end=end.time(), tz="UTC")
    changes = ChangePolicy(freeze=(freeze,), writes_per_minute={"github:acme": 1})
    playbook = hook_playbook(mode="auto")
    queue = f"q-{uuid.uuid4()}"
    request = campaign_input(playbook, findings=findings_for(playbook), page_size=1, history_budget_bytes=1)
    async with build_worker(time_env.client, context(github_org, tmp_path, playbook, changes), task_queue=queue):
        handle = await time_env.client.start_workflow(
            "RemediationWorkflow", request, id=request.campaign_id, task_queue=queue
        )
        await handle.result()
        final = await time_env.client.get_workflow_handle(request.campaign_id).query(
            "status", result_type=CampaignStatus
        )
    assert final.runs >= 2 and final.totals == {"verified": 2}
    written = [datetime.fromisoformat(e["at"]) for e in final.timeline if e["event"] == "verified"]
    assert written and all(not (start <= at < end) for at in written), (start, end, written)
