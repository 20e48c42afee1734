"""At the default rescan debounce, a burst of deliveries about one resource is still one rescan: the API built as
`mendflow api` builds it (webhooks section with no `debounce_ms`), GitHub's two deliveries for one change made by
hand in the simulator, the tenant's RescanWorkflow on the dev server."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.api.assemble import build_api
from mendflow.auth.signing import DecisionSigner
from mendflow.data import demo_tenant_path
from mendflow.findings.store import FindingStatus
from mendflow.playbooks.model import Mode, Playbook
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.rescans import request_rescan, rescan_status, rescan_workflow_id
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.settings import Settings
from mendflow.sim.deliveries import WebhookTarget
from mendflow.sim.github import create_github_app
from mendflow.tenant import load_tenant_file
from mendflow.webhooks import WebhookSettings, WebhookTenant
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import RescanInput
from tests.conftest import SimulatedOrg
from tests.integrations.conftest import serve_here

RULE = "github.repo.secret_scanning_disabled"


async def test_one_change_two_deliveries_one_rescan_at_the_default_debounce(
    dev_env: WorkflowEnvironment,
    github_org: SimulatedOrg,
    shipped_playbooks: list[Playbook],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Secret scanning turned off on acme/api by hand → `repository` + `security_and_analysis` deliveries → one
    rescan serving both, the finding open (the playbook only notifies here: no fix, so no second burst)."""
    key, queue = f"github:acme-{secrets.token_hex(3)}", f"q-{uuid.uuid4()}"
    hook_secret = "whsec-" + secrets.token_hex(12)
    register_secret(hook_secret)
    monkeypatch.setenv("T_DEBOUNCE_HOOK", hook_secret)
    webhooks = WebhookSettings(
        tenants=(WebhookTenant(tenant=key, provider="github", secret=SecretRef(ref="env:T_DEBOUNCE_HOOK")),)
    )
    assert "debounce_ms" not in webhooks.model_fields_set  # the default is what is under test
    settings = Settings(webhooks=webhooks)
    [playbook] = [p for p in shipped_playbooks if p.id == RULE]
    notify = playbook.model_copy(update={"respond": playbook.respond.model_copy(update={"mode": Mode.notify})})
    app = build_api(settings, dev_env.client, data_dir=tmp_path / "api", signer=DecisionSigner.generate(),
                    task_queue=queue)  # fmt: skip
    registry = github_org.registry()
    context = WorkerContext(registry=registry, data_dir=tmp_path / "data", playbooks={RULE: notify})
    try:
        async with serve_here(app) as api:
            sim = create_github_app(
                load_tenant_file(demo_tenant_path()),
                token=github_org.token,
                webhook=WebhookTarget(f"{api.base_url}/webhooks/github", hook_secret),
            )
            with serve_in_thread(sim) as vendor:
                connection = github_org.connection.model_copy(update={"key": key, "base_url": vendor.base_url})
                registry.tenants = {key: connection}
                async with build_worker(dev_env.client, context, task_queue=queue):
                    async with httpx.AsyncClient(base_url=vendor.base_url) as person:
                        changed = await person.patch(
                            "/repos/acme/api",
                            json={"security_and_analysis": {"secret_scanning": {"status": "disabled"}}},
                            headers={"Authorization": f"Bearer {github_org.token}"},
                        )
                    assert changed.status_code == 200
                    for _ in range(300):
                        if sim.state.deliveries.sent.total() >= 2:
                            break
                        await asyncio.sleep(0.1)
                    rows = []
                    for _ in range(300):
                        rows = [r for r in context.ledger.rows(key) if r.finding.rule == RULE]
                        if rows:
                            break
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(1.0)  # a second rescan, if the burst had split, would have run by now
                    status = await rescan_status(dev_env.client, key)
                    history = await dev_env.client.get_workflow_handle(rescan_workflow_id(key)).fetch_history()
    finally:
        context.close()
    assert dict(sim.state.deliveries.sent) == {"repository": 1, "security_and_analysis": 1}
    assert not sim.state.deliveries.failed
    assert len(rows) == 1 and rows[0].status in (FindingStatus.open, FindingStatus.remediating)
    assert len(status.batches) == 1, [(b.targets, b.requests_coalesced) for b in status.batches]
    [batch] = status.batches
    assert batch.requests_coalesced == 2 and batch.targets == ["/repos/acme/api"] and batch.requests <= 3
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0].data
    assert RescanInput.model_validate_json(started).debounce.total_seconds() * 1000 == WebhookSettings().debounce_ms


async def test_a_burst_spread_over_less_than_the_default_debounce_is_one_rescan(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, shipped_playbooks: list[Playbook], tmp_path: Path
) -> None:
    """Three requests about one repository 20 ms apart (deliveries trickling in, as a person's quick edits do) wait
    for each other at the default debounce; with none (0 ms) the first is read alone and this test fails."""
    key, queue = f"github:acme-{secrets.token_hex(3)}", f"q-{uuid.uuid4()}"
    registry = github_org.registry()
    registry.tenants = {key: github_org.connection.model_copy(update={"key": key})}
    [playbook] = [p for p in shipped_playbooks if p.id == RULE]
    context = WorkerContext(registry=registry, data_dir=tmp_path / "data", playbooks={RULE: playbook})
    debounce = timedelta(milliseconds=WebhookSettings().debounce_ms)
    try:
        async with build_worker(dev_env.client, context, task_queue=queue):
            for n in range(3):
                await request_rescan(
                    dev_env.client, key, ["/repos/acme/api"], source=f"burst {n}", task_queue=queue, debounce=debounce
                )
                await asyncio.sleep(0.02)
            for _ in range(300):
                if (await rescan_status(dev_env.client, key)).batches:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            status = await rescan_status(dev_env.client, key)
    finally:
        context.close()
    assert [(b.targets, b.requests_coalesced) for b in status.batches] == [(["/repos/acme/api"], 3)]
