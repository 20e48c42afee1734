"""Workflows on the time-skipping test server: retry backoff passes in milliseconds."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.runtime.ports import free_port
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg
from tests.workflows.helpers import campaign_results, run_scan


async def test_unreachable_vendor_fails_the_scan_after_its_retries_with_a_clear_cause(
    time_env: WorkflowEnvironment,
    shipped_playbooks,
    tmp_path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """Nothing listens at the base URL: the scan retries (minutes of backoff, skipped) then fails naming the URL."""
    monkeypatch.setenv("MENDFLOW_TS_TOKEN", "ghp_unused_but_present_000000000000")
    base_url = f"http://127.0.0.1:{free_port()}"
    registry = TenantRegistry()
    registry.add(
        TenantConnection(
            key="github:down",
            provider="github",
            tenant="acme",
            base_url=base_url,
            token=SecretRef(ref="env:MENDFLOW_TS_TOKEN"),
        )
    )
    context = WorkerContext(registry=registry, data_dir=tmp_path, playbooks={p.id: p for p in shipped_playbooks})
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context, task_queue=queue):
        with pytest.raises(WorkflowFailureError) as failed:
            await run_scan(time_env.client, queue, tenant_key="github:down")
    cause = failed.value.cause
    while getattr(cause, "cause", None) is not None:
        cause = cause.cause  # type: ignore[union-attr]
    assert base_url in str(cause) and "check the base URL" in str(cause)


async def test_scan_and_fix_also_runs_on_the_time_skipping_server(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, worker_context: WorkerContext
) -> None:
    """The same workflows are deterministic on a second server implementation."""
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, worker_context, task_queue=queue):
        scan = await run_scan(time_env.client, queue)
        results = await campaign_results(time_env.client, scan)
    assert results and all(c.outcome.value == "verified" for r in results.values() for c in r.changes)
