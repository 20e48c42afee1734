"""A change made by hand in a simulated tenant becomes a finding, and is fixed, without a scan: the simulator
delivers GitHub's signed webhook to the real API, which signals the tenant's RescanWorkflow on the dev server."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.api.app import create_api_app
from mendflow.api.webhooks import MemoryDeliveryLog, WebhookReceiver
from mendflow.audit import AuditLog
from mendflow.data import demo_tenant_path
from mendflow.findings.store import FindingStatus, LedgerRow
from mendflow.playbooks.model import Playbook
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.rescans import request_rescan, rescan_status
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.sim.deliveries import WebhookTarget
from mendflow.sim.github import create_github_app
from mendflow.tenant import load_tenant_file
from mendflow.webhooks import WebhookSettings, WebhookTenant
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg

pytestmark = pytest.mark.slow

RULE = "github.repo.secret_scanning_disabled"


async def test_a_change_by_hand_is_detected_by_webhook_and_fixed_without_a_scan(
    dev_env: WorkflowEnvironment,
    github_org: SimulatedOrg,
    shipped_playbooks: list[Playbook],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Secret scanning turned off on acme/api through the API → `repository` + `security_and_analysis` deliveries →
    a rescan → the finding opens and its auto campaign turns scanning back on; the ledger says mendflow fixed it."""
    key, queue = f"github:acme-{secrets.token_hex(3)}", f"q-{uuid.uuid4()}"
    hook_secret = "whsec-" + secrets.token_hex(12)
    register_secret(hook_secret)
    monkeypatch.setenv("T_E2E_HOOK", hook_secret)
    loop = asyncio.get_running_loop()

    async def rescan(tenant: str, targets: list[str], source: str) -> None:
        # the API serves from its own thread: the request runs on this test's loop, with its Temporal client
        coro = request_rescan(
            dev_env.client, tenant, targets, source=source, task_queue=queue, debounce=timedelta(milliseconds=300)
        )
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    config = WebhookSettings(
        tenants=(WebhookTenant(tenant=key, provider="github", secret=SecretRef(ref="env:T_E2E_HOOK")),)
    )
    audit = AuditLog(tmp_path / "audit.jsonl")
    receiver = WebhookReceiver(config, audit=audit, deliveries=MemoryDeliveryLog(), rescan=rescan)
    with serve_in_thread(create_api_app(audit=audit, webhooks=receiver)) as api:
        target = WebhookTarget(f"{api.base_url}/webhooks/github", hook_secret)
        sim = create_github_app(load_tenant_file(demo_tenant_path()), token=github_org.token, webhook=target)
        with serve_in_thread(sim) as vendor:
            registry = github_org.registry()
            registry.tenants = {key: github_org.connection.model_copy(update={"key": key, "base_url": vendor.base_url})}
            context = WorkerContext(
                registry=registry, data_dir=tmp_path / "data", playbooks={p.id: p for p in shipped_playbooks}
            )
            try:
                async with build_worker(dev_env.client, context, task_queue=queue):
                    async with httpx.AsyncClient(base_url=vendor.base_url) as person:
                        changed = await person.patch(
                            "/repos/acme/api",
                            json={"security_and_analysis": {"secret_scanning": {"status": "disabled"}}},
                            headers={"Authorization": f"Bearer {github_org.token}"},
                        )
                    assert changed.status_code == 200
                    row = await _resolved(context, key)
                    first = (await rescan_status(dev_env.client, key)).batches[0]
            finally:
                context.close()
    assert sim.state.github.repo("api")["security_and_analysis"]["secret_scanning"]["status"] == "enabled"
    assert row.resolution == "fixed by mendflow"
    assert first.campaigns_started and first.requests <= 3
    accepted = [r for r in audit.records() if r["outcome"] == "accepted"]
    assert {r["details"]["event"] for r in accepted} >= {"repository", "security_and_analysis"}
    assert not sim.state.deliveries.failed and sim.state.deliveries.sent["repository"] >= 2  # the change, the fix


async def _resolved(context: WorkerContext, key: str) -> LedgerRow:
    rows: list[LedgerRow] = []
    for _ in range(300):
        rows = [r for r in context.ledger.rows(key) if r.finding.rule == RULE]
        if rows and rows[0].status is FindingStatus.resolved:
            return rows[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{RULE} on {key} did not resolve within 30 s: {[(r.status, r.resolution) for r in rows]}")
