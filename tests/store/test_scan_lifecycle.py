"""Findings lifecycle through real scans (dev server, simulated GitHub, one shared database): a coverage gap
resolves nothing it did not read, and two tenant keys of organisations with the same name do not collide."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.findings.store import FindingStatus
from mendflow.playbooks.model import Playbook
from mendflow.routing import Role
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.worker import build_worker
from mendflow.sim.common import FaultPlan
from mendflow.sim.github import create_github_app
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import ScanResult
from tests.conftest import SimulatedOrg
from tests.workflows.helpers import run_scan

pytestmark = pytest.mark.slow


@asynccontextmanager
async def _scanner(
    env: WorkflowEnvironment,
    connections: list[TenantConnection],
    data_dir: Path,
    db_url: str,
    playbooks: list[Playbook],
) -> AsyncIterator[tuple[str, WorkerContext]]:
    """A worker that scans (campaigns it starts stay queued: nothing is remediated) on its own queue."""
    registry = TenantRegistry()
    for connection in connections:
        registry.add(connection)
    context = WorkerContext(
        registry=registry, data_dir=data_dir, playbooks={p.id: p for p in playbooks}, database_url=db_url
    )
    queue = f"q-{uuid.uuid4()}"
    try:
        async with build_worker(env.client, context, task_queue=queue, roles=[Role.scan]):
            yield queue, context
    finally:
        context.close()


async def test_a_scan_with_a_coverage_gap_resolves_nothing_it_did_not_read(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """Repos answer 403 in the second scan: their findings stay open, and the gap is reported."""
    db_url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    async with _scanner(dev_env, [github_org.connection], tmp_path / "w1", db_url, shipped_playbooks) as (q, ctx):
        first: ScanResult = await run_scan(dev_env.client, q)
    repo_findings = {
        row.finding.fingerprint
        for row in ctx.ledger.rows("github:acme")
        if row.finding.resource.id.startswith("/repos/")
    }
    assert repo_findings and first.gaps == []
    denied = create_github_app(
        load_tenant_file(demo_tenant_path()), token=github_org.token, faults=FaultPlan(forbidden=("/orgs/*/repos",))
    )
    with serve_in_thread(denied) as server:
        gap = github_org.connection.model_copy(update={"base_url": server.base_url})
        async with _scanner(dev_env, [gap], tmp_path / "w2", db_url, shipped_playbooks) as (q, ctx):
            second: ScanResult = await run_scan(dev_env.client, q)
            rows = {row.finding.fingerprint: row for row in ctx.ledger.rows("github:acme")}
    assert second.gaps and any("repos" in gap for gap in second.gaps)
    assert second.findings < first.findings  # the repos were not read, so their rules could not fire
    assert all(rows[fp].status is not FindingStatus.resolved for fp in repo_findings)
    assert second.gone == 0


async def test_two_tenant_keys_with_the_same_org_name_scan_into_one_ledger(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """`github:acme` and `ghe:acme` (both org `acme`, same fingerprints) each keep their own findings."""
    other = create_github_app(load_tenant_file(demo_tenant_path()), token=github_org.token)
    with serve_in_thread(other) as server:
        ghe = github_org.connection.model_copy(update={"key": "ghe:acme", "base_url": server.base_url})
        db_url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        async with _scanner(dev_env, [github_org.connection, ghe], tmp_path / "w", db_url, shipped_playbooks) as (
            q,
            ctx,
        ):
            one = await run_scan(dev_env.client, q, "github:acme")
            two = await run_scan(dev_env.client, q, "ghe:acme")
            github_rows, ghe_rows = ctx.ledger.rows("github:acme"), ctx.ledger.rows("ghe:acme")
    assert one.new == two.new == one.findings > 0
    assert {r.finding.fingerprint for r in github_rows} == {r.finding.fingerprint for r in ghe_rows}
    assert len(github_rows) == len(ghe_rows) == one.findings
