"""RescanWorkflow on the dev server against the simulated GitHub org: a burst coalesces into one rescan, a change
made by hand becomes a finding (and a campaign) without a scan, and only what a rescan read or covered resolves."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from mendflow.findings_store import FindingStatus
from mendflow.playbook import Playbook
from mendflow.routing import Role
from mendflow.runtime.rescans import request_rescan, rescan_status
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import RescanStatus
from tests.conftest import SimulatedOrg
from tests.workflows.helpers import run_scan

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
    """Secret scanning turned off on acme/api by hand → a rescan of that repository opens the finding."""
    github_org.state.repo("api")["security_and_analysis"]["secret_scanning"]["status"] = "disabled"
    async with _worker(dev_env, github_org, shipped_playbooks, tmp_path) as (key, queue, context):
        await request_rescan(dev_env.client, key, ["/repos/acme/api"], task_queue=queue)
        batch = (await _batches(dev_env, key, 1)).batches[0]
        rows = {(r.finding.rule, r.finding.resource.id): r for r in context.ledger.rows(key)}
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
