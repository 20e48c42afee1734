"""Okta goes through the same workflows: scan, approval gate, canary, verify, rollback."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.models import DecisionOutcome, Outcome, Verdict
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus
from tests.signing import signed_decision, signed_request
from tests.workflows.campaigns import RBAC, settings
from tests.workflows.helpers import run_scan

pytestmark = pytest.mark.slow


async def test_okta_inactive_users_are_suspended_after_approval_and_rolled_back_on_request(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Okta playbook's campaign waits for approval, suspends the users, and a rollback unsuspends them."""
    tenant = load_tenant_file(demo_tenant_path().with_name("demo-okta.json"))
    token = secrets.token_hex(21)
    register_secret(token)
    monkeypatch.setenv("MENDFLOW_OKTA_TEST_TOKEN", token)
    app = create_okta_app(tenant, token=token)
    playbook: Playbook = next(
        p for p in load_playbooks([bundled_playbook_dir()]).playbooks if p.id == "okta.user.inactive"
    )
    queue = f"q-{uuid.uuid4()}"
    with serve_in_thread(app) as server:
        connection = TenantConnection(
            key="okta:acme", provider="okta", tenant=tenant.tenant, base_url=server.base_url,
            token=SecretRef(ref="env:MENDFLOW_OKTA_TEST_TOKEN"),
        )  # fmt: skip
        context = WorkerContext(
            registry=TenantRegistry(tenants={connection.key: connection}),
            data_dir=tmp_path,
            playbooks={playbook.id: playbook},
            settings=settings(),
        )
        users = {u["id"]: dict(u) for u in app.state.okta.users}
        async with build_worker(dev_env.client, context, task_queue=queue):
            scan = await run_scan(dev_env.client, queue, tenant_key="okta:acme")
            assert len(scan.campaigns_started) == 1
            cid = scan.campaigns_started[0]
            waiting = await wait_idle(dev_env.client, cid)
            assert waiting.state == "awaiting_approval" and waiting.plan is not None
            targets = [t.resource.id.rsplit("/", 1)[1] for t in waiting.plan.targets]
            handle = dev_env.client.get_workflow_handle(cid)
            decision = signed_decision(cid, "alice", RBAC, Verdict.approve, "left the company")
            await handle.execute_update("decide", decision, result_type=DecisionOutcome)
            done = await wait_idle(dev_env.client, cid)
            assert done.state == "completed" and {c.outcome for c in done.changes} == {Outcome.verified}
            now = {u["id"]: u for u in app.state.okta.users}
            assert all(now[t]["status"] == "SUSPENDED" for t in targets)
            request = signed_request(cid, "rollback", "alice", RBAC, "wrong people")
            await handle.execute_update("rollback", request, result_type=str)
            async with asyncio.timeout(60):
                while (await handle.query("status", result_type=CampaignStatus)).state != "rolled_back":  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        after = {u["id"]: u for u in app.state.okta.users}
    assert all(after[t]["status"] == users[t]["status"] for t in targets)
