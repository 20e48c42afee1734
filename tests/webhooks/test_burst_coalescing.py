"""A burst of deliveries through the API as `mendflow api` builds it reaches the tenant's RescanWorkflow in far
fewer signals than deliveries (runtime.rescans.RescanRequests), each delivery accepted and counted."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.api.assemble import build_api
from mendflow.auth.signing import DecisionSigner
from mendflow.providers.github.webhooks import github_signature
from mendflow.redaction import register_secret
from mendflow.runtime.rescans import rescan_workflow_id
from mendflow.secrets import SecretRef
from mendflow.settings import Settings
from mendflow.webhooks import WebhookSettings, WebhookTenant
from mendflow.workflow_types import RescanRequest
from tests.integrations.conftest import serve_here

DELIVERIES = 40


async def test_a_burst_of_deliveries_is_a_few_signals_each_counted(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty `repository` deliveries for forty repositories at once: all accepted, and the workflow's history holds
    fewer than half as many signals, which together carry the forty targets and count forty requests."""
    key, queue = f"github:acme-{secrets.token_hex(3)}", f"q-{uuid.uuid4()}"  # no worker: the history is enough
    hook_secret = "whsec-" + secrets.token_hex(12)
    register_secret(hook_secret)
    monkeypatch.setenv("T_BURST_HOOK", hook_secret)
    webhooks = WebhookSettings(
        tenants=(WebhookTenant(tenant=key, provider="github", secret=SecretRef(ref="env:T_BURST_HOOK")),)
    )
    app = build_api(Settings(webhooks=webhooks), dev_env.client, data_dir=tmp_path / "api",
                    signer=DecisionSigner.generate(), task_queue=queue)  # fmt: skip

    async def deliver(client: httpx.AsyncClient, n: int) -> int:
        owner = {"login": "acme", "type": "Organization"}
        payload = {"action": "edited", "repository": {"name": f"r{n}", "full_name": f"acme/r{n}", "owner": owner}}
        body = json.dumps(payload).encode()
        answer = await client.post(
            "/webhooks/github", content=body,
            headers={"X-GitHub-Event": "repository", "X-GitHub-Delivery": str(uuid.uuid4()),
                     "X-Hub-Signature-256": github_signature(hook_secret, body), "Content-Type": "application/json"},
        )  # fmt: skip
        return answer.status_code

    async with serve_here(app) as api, httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        answers = await asyncio.gather(*(deliver(client, n) for n in range(DELIVERIES)))
    assert answers == [202] * DELIVERIES
    history = await dev_env.client.get_workflow_handle(rescan_workflow_id(key)).fetch_history()
    signals = [
        RescanRequest.model_validate_json(e.workflow_execution_signaled_event_attributes.input.payloads[0].data)
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert 1 <= len(signals) < DELIVERIES / 2, len(signals)
    assert sum(s.requests for s in signals) == DELIVERIES
    assert sorted(t for s in signals for t in s.targets) == sorted(f"/repos/acme/r{n}" for n in range(DELIVERIES))
