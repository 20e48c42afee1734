"""Campaigns evicted from the worker's cache are not failed campaigns (regression test of f11d9f4).

A campaign stays open for its retention window after its rollout, so a worker that shuts down evicts it: the run
is dropped and its coroutine closed when collected. Before f11d9f4 the telemetry interceptor took that for a
failure and asked `workflow.info()` where the run's event loop was gone (`_NotInWorkflowEventLoopError`, logged
by the SDK with its traceback). A worker whose cache holds no run (`max_cached_workflows=0`) does not show it:
evicting between tasks cancels the run inside its loop, where the old code's `workflow.info()` still answered.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from mendflow.runtime.worker import build_worker
from mendflow.telemetry.exposition import MetricsPipeline
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg
from tests.telemetry.conftest import scrape, total
from tests.workflows.helpers import campaign_results, run_scan

HOOK_RULE = "github.repo_hook.insecure_ssl"


async def test_open_campaigns_evicted_at_worker_shutdown_count_no_error_and_raise_nothing(
    dev_env: WorkflowEnvironment,
    github_org: SimulatedOrg,
    worker_context: WorkerContext,
    pipeline: MetricsPipeline,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker stops while its completed campaigns wait out their retention: each is counted once by outcome,
    none as `error`, and the SDK records no exception from tearing them down."""
    client = dev_env.client
    queue = f"q-{uuid.uuid4()}"
    before = scrape(pipeline)
    caplog.set_level(logging.DEBUG, logger="temporalio")
    async with build_worker(client, worker_context, task_queue=queue):
        scan = await run_scan(client, queue)
        results = await campaign_results(client, scan)
        assert results[HOOK_RULE].state == "completed"
        open_runs = [(await client.get_workflow_handle(c).describe()).status for c in scan.campaigns_started]
        assert WorkflowExecutionStatus.RUNNING in open_runs  # kept for rollback: the shutdown evicts it
    gc.collect()  # the dropped runs' coroutines are closed when collected
    after = scrape(pipeline)

    def grew(**labels: str) -> float:
        return total(after, "mendflow_campaigns_total", **labels) - total(before, "mendflow_campaigns_total", **labels)

    assert grew(playbook=HOOK_RULE, outcome="completed") == 1
    assert grew(outcome="error") == 0
    raised = [
        f"{r.name}: {r.getMessage()} ({r.exc_info[1]!r})" if r.exc_info else f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or (r.exc_info and not isinstance(r.exc_info[1], asyncio.CancelledError))
    ]
    assert not raised, raised
