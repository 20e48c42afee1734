"""The collect_targets activity on its own (no workflow): it reports progress while it reads, so the heartbeat
timeout the RescanWorkflow gives it only fails a rescan that has stopped making progress."""

from __future__ import annotations

from typing import Any

from mendflow.activities.rescan import RescanActivities
from temporalio.testing import ActivityEnvironment

from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import TargetedCollectInput
from tests.conftest import SimulatedOrg


async def test_collecting_targets_heartbeats_the_targets_read(
    github_org: SimulatedOrg, worker_context: WorkerContext
) -> None:
    """Every repository of the demo org named at once: heartbeats count the targets read, up to all of them."""
    targets = [f"/repos/{r['full_name']}" for r in github_org.state.repos]
    beats: list[Any] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.extend(details)
    try:
        result = await env.run(
            RescanActivities(worker_context).collect_targets,
            TargetedCollectInput(tenant_key=github_org.connection.key, targets=targets),
        )
    finally:
        worker_context.close()
    assert result.resources == len(targets) >= 2
    assert beats and beats[-1] == {"targets_read": len(targets)}
