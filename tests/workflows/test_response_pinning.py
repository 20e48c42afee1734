"""A run is pinned to its definition's content digest at start: editing the file mid-run changes new runs only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from mendflow.cli.main import _run
from mendflow.config import TenantRegistry
from mendflow.models import DecisionOutcome
from mendflow.responses import definition_digest, load_response_file
from mendflow.responses.messages import ResponseStatus, RunState
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from tests.signing import signed_decision
from tests.workflows.campaigns import RBAC, settings

WORKFLOW = """apiVersion: mendflow/v1
kind: Workflow
id: test.pinned
title: Pinned at start
tenant: none:x
steps:
  - {id: ask, kind: approve, approval: {approvers: ["group:secops-oncall"], required: 1}}
  - {id: tell, kind: notify, message: "version one"}
"""
EDITED = WORKFLOW.replace("version one", "version two") + "  - {id: extra, kind: wait, duration: 1s}\n"


@pytest.fixture
async def worker(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[tuple[Client, str]]:
    """A worker with no tenant (nothing here calls a vendor) and no Slack (a notify step records its text)."""
    context = WorkerContext(registry=TenantRegistry(), data_dir=tmp_path, playbooks={}, settings=settings())
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, context, task_queue=queue):
        yield dev_env.client, queue


async def test_editing_the_file_mid_run_changes_new_runs_only(
    worker: tuple[Client, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mendflow run --wait` stops at the approval; the file is then edited (new text, one more step); the run, once
    approved, sends the old text, has no new step and reports the old digest — a new run takes the edit."""
    client, queue = worker
    monkeypatch.setenv("MENDFLOW_TEMPORAL_ADDRESS", client.service_client.config.target_host)
    path = tmp_path / "pinned.yaml"
    path.write_text(WORKFLOW)
    original = definition_digest(load_response_file(path))

    def cli(*args: str) -> ResponseStatus:
        monkeypatch.setattr("sys.argv", ["mendflow", *args])
        code = _run()
        out = capsys.readouterr()
        assert code == 0, out.err
        return ResponseStatus.model_validate_json(out.out)

    capsys.readouterr()
    start = ("run", str(path), "--task-queue", queue, "--wait", "--format", "json", "--as", "carol")
    waiting = await asyncio.to_thread(cli, *start)
    assert waiting.state is RunState.awaiting_approval and waiting.digest == original
    path.write_text(EDITED)
    handle = client.get_workflow_handle(waiting.run_id, result_type=ResponseStatus)
    await handle.execute_update("decide", signed_decision(waiting.run_id, "bob", RBAC), result_type=DecisionOutcome)
    done: ResponseStatus = await handle.result()
    assert done.state is RunState.completed and done.digest == original
    assert [s.id for s in done.steps] == ["ask", "tell"] and done.steps[1].output["text"] == "version one"

    second = await asyncio.to_thread(cli, *start)
    assert second.digest == definition_digest(load_response_file(path)) != original
    assert [s.id for s in second.steps] == ["ask", "tell", "extra"]
    await client.get_workflow_handle(second.run_id).terminate("test over")
