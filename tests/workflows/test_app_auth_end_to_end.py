"""Both app auth modes through the real workflows, with planted canaries: scan, campaign, rollback, a refused key.

The private keys and every token the simulators minted are canaries: none may appear in the logs, an error, or
the Temporal history of any workflow the test ran (workflows carry tenant keys only; workers resolve secrets).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.connectors.credentials import forget_minted_tokens
from mendflow.data import demo_tenant_path
from mendflow.models import DecisionOutcome, Outcome, Verdict
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.providers.github.auth_config import GithubAppAuth
from mendflow.providers.okta.auth_config import OktaServiceAppAuth
from mendflow.providers.okta.permissions import READ_SCOPES as OKTA_READ_SCOPES
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.sim.app_auth import GithubAppAuthority, OktaServiceApp, OktaServiceAuthority
from mendflow.sim.github import create_github_app
from mendflow.sim.okta import create_okta_app
from mendflow.telemetry import configure_logging
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus
from tests.connectors.keys import rsa_pair
from tests.signing import signed_decision, signed_request
from tests.workflows.campaigns import RBAC, settings
from tests.workflows.helpers import campaign_results, run_scan

pytestmark = pytest.mark.slow

PLAYBOOKS = load_playbooks([bundled_playbook_dir()]).playbooks
GITHUB_GRANT = {"organization_administration": "write", "members": "read", "organization_hooks": "write",
                "metadata": "read", "administration": "write", "repository_hooks": "write"}  # fmt: skip


async def _histories(env: WorkflowEnvironment, queue: str) -> list[str]:
    out = []
    async for execution in env.client.list_workflows(f"TaskQueue = '{queue}'"):
        history = await env.client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        out.append(json.dumps(history.to_json_dict()))
    return out


def app_state_hooks(app: Any) -> dict[str, str]:
    """Repository hook id → its `insecure_ssl`, as the simulator holds it now."""
    return {
        f"{repo['name']}/{hook['id']}": str(hook["config"].get("insecure_ssl"))
        for repo in app.state.github.repos
        for hook in repo.get("_hooks", [])
    }


def _key_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if "PRIVATE KEY" not in line]


async def test_github_app_scan_and_campaigns_leak_no_key_or_token(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    """Scan, auto campaigns and a rollback run on installation tokens; a wrong key fails the scan, named."""
    forget_minted_tokens()
    private, public = rsa_pair()
    wrong, _ = rsa_pair()
    (tmp_path / "app.pem").write_text(private)
    (tmp_path / "wrong.pem").write_text(wrong)
    authority = GithubAppAuthority(app_id="4711", public_key=public, permissions=dict(GITHUB_GRANT))
    stream = io.StringIO()
    configure_logging(level="DEBUG", json_output=True, stream=stream)
    queue = f"q-{uuid.uuid4()}"
    sim_app = create_github_app(load_tenant_file(demo_tenant_path()), token="x" * 24, app_auth=authority)
    with serve_in_thread(sim_app) as s:

        def tenant(key: str, pem: Path) -> TenantConnection:
            auth = GithubAppAuth(kind="github_app", app_id="4711", private_key=SecretRef(ref=f"file:{pem}"))
            return TenantConnection(key=key, provider="github", tenant="acme", base_url=s.base_url, auth=auth)

        registry = TenantRegistry(tenants={"github:acme": tenant("github:acme", tmp_path / "app.pem")})
        registry.add(tenant("github:wrong", tmp_path / "wrong.pem"))
        context = WorkerContext(
            registry=registry, data_dir=tmp_path / "data", playbooks={p.id: p for p in PLAYBOOKS}, settings=settings()
        )
        hooks = app_state_hooks(sim_app)
        async with build_worker(dev_env.client, context, task_queue=queue):
            scan = await run_scan(dev_env.client, queue)
            results = await campaign_results(dev_env.client, scan)
            fixed = app_state_hooks(sim_app)
            hook_campaign = results["github.repo_hook.insecure_ssl"]
            handle = dev_env.client.get_workflow_handle(hook_campaign.campaign_id)
            undo = signed_request(hook_campaign.campaign_id, "rollback", "alice", RBAC, "undo")
            await handle.execute_update("rollback", undo, result_type=str)
            async with asyncio.timeout(60):
                while (await handle.query("status", result_type=CampaignStatus)).state != "rolled_back":  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            restored = app_state_hooks(sim_app)
            with pytest.raises(WorkflowFailureError) as failed:
                await run_scan(dev_env.client, queue, tenant_key="github:wrong")
    logging.getLogger().handlers.clear()
    assert results and any(o is Outcome.verified for r in results.values() for o in (c.outcome for c in r.changes))
    assert "1" in hooks.values() and "1" not in fixed.values(), "the auto campaign fixed every insecure hook"
    assert restored == hooks, "the rollback put every hook back as it was"
    texts = [stream.getvalue(), repr(failed.value), str(failed.value.__cause__), *await _histories(dev_env, queue)]
    everything = " ".join(texts)
    assert "github:wrong" in everything and "wrong.pem" in everything and "refused the JWT" in everything
    canaries = [*_key_lines(private), *_key_lines(wrong), *authority.issued]
    assert authority.issued, "installation tokens were minted (the canaries are real)"
    for text in texts:
        for canary in canaries:
            assert canary not in text


async def test_okta_service_app_campaign_and_rollback_leak_no_key_or_token(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Scan on read scopes, approve, suspend on okta.users.manage, roll back; no key or token anywhere."""
    forget_minted_tokens()
    private, public = rsa_pair()
    (tmp_path / "okta.pem").write_text(private)
    granted = frozenset(OKTA_READ_SCOPES) | {"okta.users.manage"}
    authority = OktaServiceAuthority(apps={"0oaE2E": OktaServiceApp("0oaE2E", public, granted)})
    tenant = load_tenant_file(demo_tenant_path().with_name("demo-okta.json"))
    app = create_okta_app(tenant, token="x" * 24, service_apps=authority)
    playbook = next(p for p in PLAYBOOKS if p.id == "okta.user.inactive")
    stream = io.StringIO()
    configure_logging(level="DEBUG", json_output=True, stream=stream)
    queue = f"q-{uuid.uuid4()}"
    with serve_in_thread(app) as server:
        auth = OktaServiceAppAuth(
            kind="okta_service_app", client_id="0oaE2E", private_key=SecretRef(ref=f"file:{tmp_path / 'okta.pem'}")
        )
        connection = TenantConnection(
            key="okta:acme", provider="okta", tenant=tenant.tenant, base_url=server.base_url, auth=auth
        )
        context = WorkerContext(registry=TenantRegistry(tenants={connection.key: connection}), data_dir=tmp_path,
                                playbooks={playbook.id: playbook}, settings=settings())  # fmt: skip
        before = {u["id"]: u["status"] for u in app.state.okta.users}
        async with build_worker(dev_env.client, context, task_queue=queue):
            scan = await run_scan(dev_env.client, queue, tenant_key="okta:acme")
            [cid] = scan.campaigns_started
            waiting = await wait_idle(dev_env.client, cid)
            targets = [t.resource.id.rsplit("/", 1)[1] for t in waiting.plan.targets]  # type: ignore[union-attr]
            handle = dev_env.client.get_workflow_handle(cid)
            decision = signed_decision(cid, "alice", RBAC, Verdict.approve, "left the company")
            await handle.execute_update("decide", decision, result_type=DecisionOutcome)
            done = await wait_idle(dev_env.client, cid)
            suspended = {u["id"]: u["status"] for u in app.state.okta.users}
            await handle.execute_update(
                "rollback", signed_request(cid, "rollback", "alice", RBAC, "oops"), result_type=str
            )
            async with asyncio.timeout(60):
                while (await handle.query("status", result_type=CampaignStatus)).state != "rolled_back":  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        after = {u["id"]: u["status"] for u in app.state.okta.users}
    logging.getLogger().handlers.clear()
    assert done.state == "completed" and {c.outcome for c in done.changes} == {Outcome.verified}
    assert targets and all(suspended[t] == "SUSPENDED" for t in targets)
    assert all(after[t] == before[t] for t in targets)
    assert {i.granted for i in authority.issued.values()} == {
        frozenset(OKTA_READ_SCOPES),
        frozenset({"okta.users.manage"}),
    }
    texts = [stream.getvalue(), *await _histories(dev_env, queue)]
    for text in texts:
        for canary in [*_key_lines(private), *authority.issued]:
            assert canary not in text
