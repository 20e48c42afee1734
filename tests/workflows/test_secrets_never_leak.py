"""A planted canary token never appears in logs, exceptions or Temporal history."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from temporalio.api.enums.v1 import EventType  # noqa: F401  (kept for readers of the history JSON)
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantConnection
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.telemetry import configure_logging
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg
from tests.workflows.helpers import campaign_results, run_scan

pytestmark = pytest.mark.slow


async def _history_text(env: WorkflowEnvironment, workflow_id: str) -> str:
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    return json.dumps(history.to_json_dict())


async def test_canary_token_is_absent_from_logs_exceptions_and_history(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, worker_context: WorkerContext, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Scan + fix + a failing scan with a wrong token: the token shows up nowhere we write."""
    canary = github_org.token
    stream = io.StringIO()
    configure_logging(level="DEBUG", json_output=True, stream=stream)
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, worker_context, task_queue=queue):
        scan = await run_scan(dev_env.client, queue)
        await campaign_results(dev_env.client, scan)
        # A second tenant whose token the simulator refuses: the failure travels through history and logs.
        wrong = TenantConnection(
            key="github:wrong",
            provider="github",
            tenant="acme",
            base_url=github_org.base_url,
            token=SecretRef(ref="env:MENDFLOW_WRONG_TOKEN"),
        )
        import os

        os.environ["MENDFLOW_WRONG_TOKEN"] = canary + "-but-wrong"
        worker_context.registry.add(wrong)
        with pytest.raises(WorkflowFailureError) as failed:
            await run_scan(dev_env.client, queue, tenant_key="github:wrong")
    logging.getLogger().handlers.clear()
    texts = [stream.getvalue(), repr(failed.value), str(failed.value.__cause__)]
    for wid in [*scan.campaigns_started]:
        texts.append(await _history_text(dev_env, wid))
    async for execution in dev_env.client.list_workflows(f"TaskQueue = '{queue}'"):
        texts.append(await _history_text(dev_env, execution.id))
    assert len(texts) > 4
    assert "Bad credentials" in " ".join(texts)  # the failure did reach history: we searched the right place
    for text in texts:
        assert canary not in text
