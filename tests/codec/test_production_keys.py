"""Production configuration: a worker and `mendflow scan` sharing a key ring named by reference (`--payload-keys`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from mendflow.codec import ENCODING, PayloadKeys, new_key_text
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg

pytestmark = pytest.mark.slow

MENDFLOW = str(Path(sys.executable).parent / "mendflow")


async def _scan(address: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        MENDFLOW, "scan", "--tenant", "github:acme", "--temporal-address", address, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=180)
    return proc.returncode or 0, out.decode(), err.decode()


async def _latest_scan(env: WorkflowEnvironment) -> WorkflowHistory:
    """The newest scan's history as Temporal holds it (fetched without the codec)."""
    found = [wf async for wf in env.client.list_workflows("WorkflowId STARTS_WITH 'scan/github:acme/'")]
    latest = max(found, key=lambda wf: wf.start_time)
    return await env.client.get_workflow_handle(latest.id).fetch_history()


async def test_failures_reach_the_cli_in_clear_and_temporal_as_ciphertext(
    dev_env: WorkflowEnvironment,
    worker_context: WorkerContext,
    github_org: SimulatedOrg,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """With the same ring the CLI prints the worker's error as before; Temporal only holds it encrypted; without
    the ring the CLI says which key it lacks (exit 2)."""
    key = tmp_path / "payload-prod.key"
    key.write_text(new_key_text() + "\n")
    ring = f"prod=file:{key}"
    address = dev_env.client.service_client.config.target_host
    client = await connect(TemporalSettings(address=address, payload_keys=PayloadKeys.parse(ring)))
    monkeypatch.setenv(github_org.connection.token.ref.removeprefix("env:"), "ghp_wrong_" + "x" * 30)
    async with build_worker(client, worker_context):
        code, _, err = await _scan(address, "--payload-keys", ring)
        history = await _latest_scan(dev_env)
        keyless = await _scan(address)
    assert code == 1, err
    [line] = err.splitlines()
    assert line.startswith("mendflow: scan of github:acme (activity collect_inventory) failed: ") and "401" in line
    failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED]
    assert failed
    for event in failed:
        failure = event.activity_task_failed_event_attributes.failure
        assert "401" not in failure.message and failure.encoded_attributes.metadata["encoding"] == ENCODING
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads
    assert [p.metadata["encoding"] for p in started] == [ENCODING]
    assert keyless[0] == 2 and "(key 'prod')" in keyless[2] and "--payload-keys" in keyless[2], keyless
