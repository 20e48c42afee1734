"""RescanWorkflow on the dev server against the simulated GitHub org: a burst coalesces into one rescan, a change
made by hand becomes a finding (and a campaign) without a scan, and only what a rescan read or covered resolves."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mendflow.workflows import WORKFLOWS
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.findings.store import FindingStatus
from mendflow.playbooks.model import Playbook
from mendflow.redaction import register_secret
from mendflow.routing import Role
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.rescans import (
    REQUEST_SIGNAL,
    RESCAN_WORKFLOW,
    STATUS_QUERY,
    RescanRequests,
    request_rescan,
    rescan_status,
    rescan_workflow_id,
)
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import RescanInput, RescanRequest, RescanStatus
from tests.conftest import SimulatedOrg
from tests.connectors.conftest import OKTA_DEMO
from tests.workflows.helpers import run_scan
from tests.workflows.test_replay import HISTORIES

SECRET_SCANNING = "github.repo.secret_scanning_disabled"


@asynccontextmanager
async def _worker(
    env: WorkflowEnvironment, org: SimulatedOrg, playbooks: list[Playbook], tmp_path: Path
) -> AsyncIterator[tuple[str, str, WorkerContext]]:
    """A scanning worker on its own queue, for a tenant key of its own (the rescan workflow id is per tenant)."""
    key = f"github:acme-{secrets.token_hex(3)}"
    registry = org.registry()
    registry.tenants = {key: org.connection.model_copy(update={"key": key})}
    context = WorkerContext(registry=registry, data_dir=tmp_path / "data", playbooks={p.id: p for p in playbooks})
    queue = f"q-{uuid.uuid4()}"
    try:
        async with build_worker(env.client, context, task_queue=queue, roles=[Role.scan]):
            yield key, queue, context
    finally:
        context.close()


async def _batches(env: WorkflowEnvironment, key: str, count: int) -> RescanStatus:
    for _ in range(300):
        status = await rescan_status(env.client, key)
        if len(status.batches) >= count:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {count} rescans of {key} within 30 s")


async def test_a_burst_of_requests_for_one_resource_is_one_rescan(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """Ten deliveries about one repository within the debounce window: one rescan, three requests."""
    async with _worker(dev_env, github_org, shipped_playbooks, tmp_path) as (key, queue, _):
        for n in range(10):
            await request_rescan(
                dev_env.client, key, ["/repos/acme/api"], source=f"test {n}", task_queue=queue,
                debounce=timedelta(seconds=2),
            )  # fmt: skip
        status = await _batches(dev_env, key, 1)
        await asyncio.sleep(0.5)
        status = await rescan_status(dev_env.client, key)
    assert len(status.batches) == 1
    batch = status.batches[0]
    assert batch.requests_coalesced == 10 and batch.targets == ["/repos/acme/api"]
    assert batch.requests <= 3 and batch.resources == 1


async def test_a_change_made_by_hand_becomes_a_finding_and_a_campaign_without_a_scan(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """Secret scanning turned off on acme/api by hand → a rescan of that repository opens the finding (and the
    rescan's history replays)."""
    github_org.state.repo("api")["security_and_analysis"]["secret_scanning"]["status"] = "disabled"
    async with _worker(dev_env, github_org, shipped_playbooks, tmp_path) as (key, queue, context):
        await request_rescan(dev_env.client, key, ["/repos/acme/api"], task_queue=queue)
        batch = (await _batches(dev_env, key, 1)).batches[0]
        rows = {(r.finding.rule, r.finding.resource.id): r for r in context.ledger.rows(key)}
        history = await dev_env.client.get_workflow_handle(rescan_workflow_id(key)).fetch_history()
    replayed = await Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert replayed.replay_failure is None
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):  # once per released version of the workflow
        record = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES / f"rescan-{key.rsplit('-', 1)[1]}.json").write_text(json.dumps(record, indent=1))
    assert batch.new >= 1 and len(batch.campaigns_started) >= 1
    row = rows[(SECRET_SCANNING, "/repos/acme/api")]
    assert row.status is FindingStatus.remediating and row.campaign in batch.campaigns_started  # claimed
    assert all(rid == "/repos/acme/api" for _, rid in rows)  # nothing else was read, so nothing else recorded


async def test_a_rescan_resolves_only_what_it_read_or_found_deleted(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """After a full scan, acme/web is deleted: a rescan of it resolves its findings (deleted), none of acme/api's."""
    async with _worker(dev_env, github_org, shipped_playbooks, tmp_path) as (key, queue, context):
        await run_scan(dev_env.client, queue, tenant_key=key)
        before = {r.finding.fingerprint: r for r in context.ledger.rows(key) if r.status is not FindingStatus.resolved}
        web = {fp for fp, r in before.items() if r.finding.resource.id.startswith("/repos/acme/web")}
        assert web and len(web) < len(before)
        state = github_org.state
        state.repos[:] = [r for r in state.repos if r["name"] != "web"]
        state._by_name = {}
        await request_rescan(dev_env.client, key, ["/repos/acme/web"], task_queue=queue)
        batch = (await _batches(dev_env, key, 1)).batches[0]
        after = {r.finding.fingerprint: r for r in context.ledger.rows(key)}
    assert batch.gone == len(web) and batch.requests == 1
    assert {fp for fp in before if after[fp].status is FindingStatus.resolved} == web
    assert {after[fp].resolution for fp in web} == {"resource deleted"}


async def test_an_idle_run_completes_and_the_next_request_starts_a_new_one(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """After `idle` without requests the run completes; the next delivery starts a fresh run that serves it."""
    async with _worker(dev_env, github_org, shipped_playbooks, tmp_path) as (key, queue, _):
        first = await dev_env.client.start_workflow(
            RESCAN_WORKFLOW,
            RescanInput(tenant_key=key, idle=timedelta(seconds=1), debounce=timedelta(milliseconds=50)),
            id=rescan_workflow_id(key),
            task_queue=queue,
            start_signal=REQUEST_SIGNAL,
            start_signal_args=[RescanRequest(targets=["/repos/acme/api"])],
            result_type=RescanStatus,
        )
        done = await first.result()
        assert [b.targets for b in done.batches] == [["/repos/acme/api"]]
        second = await request_rescan(dev_env.client, key, ["/repos/acme/docs"], task_queue=queue)
        status = await _batches(dev_env, key, 1)
    assert second.result_run_id != first.result_run_id
    assert [b.targets for b in status.batches] == [["/repos/acme/docs"]]


async def test_a_busy_run_continues_as_new(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """After `max_batches` rescans a run continues as new, and the next run serves the next request."""
    async with _worker(dev_env, github_org, shipped_playbooks, tmp_path) as (key, queue, _):
        first = await dev_env.client.start_workflow(
            RESCAN_WORKFLOW,
            RescanInput(tenant_key=key, max_batches=1, debounce=timedelta(milliseconds=50)),
            id=rescan_workflow_id(key),
            task_queue=queue,
            start_signal=REQUEST_SIGNAL,
            start_signal_args=[RescanRequest(targets=["/repos/acme/api"])],
        )
        await _continued(dev_env, first.id, first.result_run_id)
        second = await request_rescan(dev_env.client, key, ["/repos/acme/docs"], task_queue=queue)
        assert second.result_run_id != first.result_run_id
        run = await _continued(dev_env, second.id, second.result_run_id)
        status = await run.query(STATUS_QUERY, result_type=RescanStatus)
    assert [b.targets for b in status.batches] == [["/repos/acme/docs"]]


async def _continued(env: WorkflowEnvironment, workflow_id: str, run_id: str | None) -> WorkflowHandle[Any, Any]:
    run = env.client.get_workflow_handle(workflow_id, run_id=run_id)
    for _ in range(300):
        if (await run.describe()).status is WorkflowExecutionStatus.CONTINUED_AS_NEW:
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not continue as new within 30 s")


async def test_an_okta_user_is_rescanned_in_three_requests(
    dev_env: WorkflowEnvironment, shipped_playbooks: list[Playbook], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Okta user named by an event hook: the user, its roles, its factors — and nothing else."""
    token = "okta-" + secrets.token_hex(12)
    register_secret(token)
    monkeypatch.setenv("T_RESCAN_OKTA", token)
    tenant = load_tenant_file(OKTA_DEMO)
    with serve_in_thread(create_okta_app(tenant, token=token)) as server:
        key = f"okta:acme-{secrets.token_hex(3)}"
        connection = TenantConnection(
            key=key, provider="okta", tenant=tenant.tenant, base_url=server.base_url,
            token=SecretRef(ref="env:T_RESCAN_OKTA"),
        )  # fmt: skip
        context = WorkerContext(
            registry=TenantRegistry(tenants={key: connection}),
            data_dir=tmp_path / "data",
            playbooks={p.id: p for p in shipped_playbooks},
        )
        queue = f"q-{uuid.uuid4()}"
        try:
            async with build_worker(dev_env.client, context, task_queue=queue, roles=[Role.scan]):
                await request_rescan(dev_env.client, key, ["/api/v1/users/00u00000000000001sim"], task_queue=queue)
                batch = (await _batches(dev_env, key, 1)).batches[0]
        finally:
            context.close()
    assert batch.requests == 3 and batch.resources == 1


async def test_a_failed_rescan_is_reported_and_the_workflow_keeps_serving(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """A tenant this worker does not know: the rescan fails without retries, says why, and the run stays open."""
    async with _worker(dev_env, github_org, shipped_playbooks, tmp_path) as (_, queue, _ctx):
        key = "github:not-configured-" + secrets.token_hex(3)
        handle = await request_rescan(dev_env.client, key, ["/repos/acme/api"], task_queue=queue)
        status = await _batches(dev_env, key, 1)
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    assert "unknown tenant" in status.batches[0].error and status.batches[0].requests == 0


async def test_concurrent_requests_travel_in_few_signals_and_each_is_counted(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """Sixty deliveries at once through one client's RescanRequests: far fewer signals than deliveries reach the
    workflow, yet its rescans serve all sixty requests and read every named repository once."""
    repos = [f"/repos/{r['full_name']}" for r in github_org.state.repos]
    async with _worker(dev_env, github_org, shipped_playbooks, tmp_path) as (key, queue, _):
        requests = RescanRequests(dev_env.client, task_queue=queue, debounce=timedelta(seconds=1))
        await asyncio.gather(*(requests.request(key, [repos[n % len(repos)]], source=f"test {n}") for n in range(60)))
        status = await _batches(dev_env, key, 1)
        history = await dev_env.client.get_workflow_handle(rescan_workflow_id(key)).fetch_history()
    signals = [e for e in history.events if e.HasField("workflow_execution_signaled_event_attributes")]
    assert 1 <= len(signals) < 60 / 2, len(signals)
    assert sum(b.requests_coalesced for b in status.batches) == 60
    assert sorted(t for b in status.batches for t in b.targets) == sorted(repos)


async def test_coalesced_requests_each_get_the_error_of_their_signal(dev_env: WorkflowEnvironment) -> None:
    """A signal the server refuses (no task queue): every caller whose request it carried raises, none hangs."""
    requests = RescanRequests(dev_env.client, task_queue="")
    key = f"github:acme-{secrets.token_hex(3)}"
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(requests.request(key, [f"/repos/acme/r{n}"]) for n in range(20)), return_exceptions=True),
        timeout=30,
    )
    assert len(outcomes) == 20 and all(isinstance(o, Exception) for o in outcomes), outcomes


async def test_a_rescan_of_many_targets_lists_the_first_in_its_status_and_counts_them_all(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """Eighty targets in one request: the rescan's status lists the first fifty, in order, and counts all eighty
    (a busy tenant's status query stays far below gRPC's message limit)."""
    targets = ["/repos/acme/api", *(f"/repos/other/r{n}" for n in range(79))]  # another org's: refused, not read
    async with _worker(dev_env, github_org, shipped_playbooks, tmp_path) as (key, queue, _):
        await request_rescan(dev_env.client, key, targets, task_queue=queue)
        [batch] = (await _batches(dev_env, key, 1)).batches
    assert batch.target_count == 80 and batch.targets == targets[:50]
    assert batch.resources == 1
