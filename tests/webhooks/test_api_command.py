"""`mendflow api` serves the `webhooks:` section: a signed delivery is accepted and signalled to Temporal, a
mis-signed one refused, and the webhook secret never appears in its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.providers.github.webhooks import github_signature
from mendflow.runtime.ports import free_port
from mendflow.runtime.rescans import rescan_workflow_id

pytestmark = pytest.mark.slow  # a process start (~5 s idle, 14 s on a loaded machine)

MENDFLOW = str(Path(sys.executable).parent / "mendflow")


async def test_mendflow_api_accepts_signed_github_deliveries(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    """Ping 200; a signed `repository` event 202 and a RescanWorkflow started; a wrong signature 401."""
    secret = "canary-hook-" + os.urandom(6).hex()
    tenant = "github:acme-api-" + os.urandom(3).hex()
    config = tmp_path / "mendflow.yaml"
    config.write_text(
        f"webhooks:\n  tenants:\n    - {{tenant: '{tenant}', provider: github, secret: {{ref: env:T_API_HOOK}}}}\n"
    )
    port = free_port()
    address = dev_env.client.service_client.config.target_host
    command = [MENDFLOW, "api", "--temporal-address", address, "--config", str(config), "--port", str(port),
               "--data-dir", str(tmp_path / "data")]  # fmt: skip
    env = {**os.environ, "T_API_HOOK": secret}
    # the API under test is a process: nothing else runs in this loop while its banner is read
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as api:  # noqa: ASYNC220
        try:
            assert api.stdout is not None
            banner = api.stdout.readline()
            assert "webhooks: /webhooks/github" in banner, banner

            async def post(event: str, body: dict[str, object], signature: str | None = None) -> httpx.Response:
                raw = json.dumps(body).encode()
                headers = {"x-github-event": event, "x-github-delivery": f"{event}-1",
                           "x-hub-signature-256": signature or github_signature(secret, raw)}  # fmt: skip
                async with httpx.AsyncClient() as client:
                    return await client.post(f"http://127.0.0.1:{port}/webhooks/github", content=raw, headers=headers)

            assert (await post("ping", {"zen": "hi"})).status_code == 200
            edited = {"action": "edited", "repository": {"name": "web", "owner": {"login": "acme"}}}
            assert (await post("repository", edited)).status_code == 202
            assert (await post("repository", edited, signature="sha256=" + "0" * 64)).status_code == 401
            started = await dev_env.client.get_workflow_handle(rescan_workflow_id(tenant)).describe()
            assert started.workflow_type == "RescanWorkflow"
            await dev_env.client.get_workflow_handle(rescan_workflow_id(tenant)).terminate("test done")
        finally:
            api.terminate()
            out, err = api.communicate(timeout=30)
    assert secret not in out + err and "webhook refused" in err
