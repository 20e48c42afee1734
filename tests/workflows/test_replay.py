"""Determinism: recorded histories replay against the current workflow code."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from mendflow.workflows import WORKFLOWS
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg
from tests.workflows.helpers import campaign_results, run_scan

HISTORIES = Path(__file__).parent.parent / "histories"

pytestmark = pytest.mark.slow


def _replayer() -> Replayer:
    return Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)


async def test_fresh_histories_replay_without_nondeterminism(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, worker_context: WorkerContext
) -> None:
    """A scan and its campaigns, recorded now, replay cleanly."""
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, worker_context, task_queue=queue):
        scan = await run_scan(dev_env.client, queue)
        await campaign_results(dev_env.client, scan)
    ids = [*scan.campaigns_started]
    async for execution in dev_env.client.list_workflows(f"TaskQueue = '{queue}' AND WorkflowType = 'ScanWorkflow'"):
        ids.append(execution.id)
    histories = [await dev_env.client.get_workflow_handle(i).fetch_history() for i in ids]
    assert len(histories) >= 2
    for history in histories:
        result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, (history.workflow_id, result.replay_failure)
    if os.environ.get("MENDFLOW_RECORD_HISTORIES"):
        # Run once per released workflow version to add its histories to tests/histories.
        HISTORIES.mkdir(exist_ok=True)
        for history in histories:
            kind = "scan" if history.workflow_id.startswith("scan-") else "remediation"
            name = f"{kind}-{history.workflow_id.replace('/', '_')[-16:]}.json"
            record = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
            (HISTORIES / name).write_text(json.dumps(record, indent=1))


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_released_histories_still_replay(path: Path) -> None:
    """Histories of released workflow versions (tests/histories) replay against today's code."""
    record = json.loads(path.read_text())  # noqa: ASYNC240 - a small fixture file
    history = WorkflowHistory.from_json(record["workflow_id"], record["history"])
    await _replayer().replay_workflow(history)
