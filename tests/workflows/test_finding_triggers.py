"""Finding triggers end to end: a scan of the simulated GitHub org opens findings of a detection playbook, and a
workflow playbook with `triggers: [{finding: …}]` loaded on the worker gets one run per finding — idempotent per
finding, and nothing at all when the workflow playbook is not loaded."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from mendflow.responses import ResponsePlaybook
from mendflow.responses.messages import RunState
from mendflow.responses.triggers import run_id_for
from mendflow.runtime.rescans import request_rescan, rescan_status
from mendflow.runtime.responses import wait_response_idle
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg
from tests.workflows.campaigns import HOOKS, hook_playbook, settings
from tests.workflows.helpers import run_scan

HISTORIES = Path(__file__).parent.parent / "histories"
RULE = "github.repo_hook.insecure_ssl"
TRIGGERED = ResponsePlaybook.model_validate(
    {
        "apiVersion": "mendflow/v1", "kind": "Workflow", "id": "test.insecure_hook", "title": "insecure hook",
        "inputs": {"type": "object", "required": ["resource"], "properties": {"resource": {"type": "string"}}},
        "triggers": [{"finding": RULE}],
        "steps": [
            {"id": "hook", "kind": "read", "target": "${{ inputs.resource }}"},
            {"id": "tell", "kind": "notify",
             "message": "${{ inputs.resource }} posts to ${{ steps.hook.output.config.url }}"},
        ],
    }
)  # fmt: skip


async def _record_scan(env: WorkflowEnvironment, queue: str) -> None:
    """The first scan's history, which starts the triggered runs, for tests/workflows/test_replay.py."""
    if not os.environ.get("MENDFLOW_RECORD_HISTORIES"):
        return
    async for execution in env.client.list_workflows(f"TaskQueue = '{queue}' AND WorkflowType = 'ScanWorkflow'"):
        history = await env.client.get_workflow_handle(execution.id).fetch_history()
        if any(e.HasField("start_child_workflow_execution_initiated_event_attributes") for e in history.events):
            record = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
            (HISTORIES / "scan-finding-triggers.json").write_text(json.dumps(record, indent=1))
            return
    raise AssertionError("no scan started a triggered run")


def _context(
    github_org: SimulatedOrg, data: Path, *, responses: bool, workflow: ResponsePlaybook = TRIGGERED
) -> WorkerContext:
    playbook = hook_playbook(mode="notify")  # findings only: no campaign writes to the hooks
    return WorkerContext(
        registry=github_org.registry(), data_dir=data, playbooks={playbook.id: playbook}, settings=settings(),
        responses={workflow.id: workflow} if responses else {},
    )  # fmt: skip


async def test_each_new_finding_starts_one_run_on_its_resource_and_a_rescan_starts_none(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """Two insecure hooks → two runs, ids from the fingerprints, each reading its own hook; the next scan (the
    findings still open) starts nothing more."""
    queue = f"q-{uuid.uuid4()}"
    context = _context(github_org, tmp_path / "data", responses=True)
    async with build_worker(dev_env.client, context, task_queue=queue):
        first = await run_scan(dev_env.client, queue)
        runs = {rid: await wait_response_idle(dev_env.client, rid) for rid in first.responses_started}
        second = await run_scan(dev_env.client, queue)
        await _record_scan(dev_env, queue)
    rows = context.ledger.rows("github:acme")
    fingerprints = {row.finding.resource.id: row.finding.fingerprint for row in rows}
    assert set(fingerprints) == set(HOOKS), fingerprints
    assert sorted(first.responses_started) == sorted(
        run_id_for(TRIGGERED.id, "github:acme", fingerprints[h]) for h in HOOKS
    )
    for run_id, status in runs.items():
        hook = next(h for h in HOOKS if run_id == run_id_for(TRIGGERED.id, "github:acme", fingerprints[h]))
        assert status.state is RunState.completed and status.playbook_id == TRIGGERED.id
        assert status.steps[0].output["id"] == int(hook.rsplit("/", 1)[1])
        assert status.steps[1].output["text"].startswith(f"{hook} posts to https://")
    assert second.new == 0 and second.responses_started == []
    context.close()


async def test_no_run_starts_unless_the_workflow_playbook_is_loaded(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """The same scan on a worker without the workflow playbook opens the findings and starts no run."""
    queue = f"q-{uuid.uuid4()}"
    context = _context(github_org, tmp_path / "data", responses=False)
    async with build_worker(dev_env.client, context, task_queue=queue):
        scan = await run_scan(dev_env.client, queue)
    assert scan.new == len(HOOKS) and scan.responses_started == []
    context.close()


async def test_a_webhook_rescan_that_opens_a_finding_starts_its_run(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """No scan at all: a rescan of acme/api's hooks (as a webhook delivery asks for) opens hook 11's finding and
    starts its run, on the rescan's tenant."""
    key = f"github:acme-{uuid.uuid4().hex[:6]}"
    registry = github_org.registry()
    registry.tenants = {key: github_org.connection.model_copy(update={"key": key})}
    playbook = hook_playbook(mode="notify")
    context = WorkerContext(
        registry=registry, data_dir=tmp_path / "data", playbooks={playbook.id: playbook}, settings=settings(),
        responses={TRIGGERED.id: TRIGGERED},
    )  # fmt: skip
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, context, task_queue=queue):
        await request_rescan(dev_env.client, key, ["/repos/acme/api/hooks"], task_queue=queue)
        for _ in range(300):
            batches = (await rescan_status(dev_env.client, key)).batches
            if batches:
                break
            await asyncio.sleep(0.1)
        fingerprint = next(r.finding.fingerprint for r in context.ledger.rows(key) if r.finding.rule == RULE)
        expected = run_id_for(TRIGGERED.id, key, fingerprint)
        assert batches[0].responses_started == [expected], batches
        run = await wait_response_idle(dev_env.client, expected)
    context.close()
    assert run.state is RunState.completed and run.steps[1].output["text"].startswith(f"{HOOKS[0]} posts to ")


async def test_a_finding_that_resolves_and_comes_back_starts_no_second_run(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """The run id is the finding's: a hook fixed by hand and made insecure again reopens its finding, and the scan
    that sees it again starts no second run (docs/playbooks.md, finding triggers)."""
    queue = f"q-{uuid.uuid4()}"
    # its own workflow id: the other tests of this module already started runs for these findings on this server
    workflow = TRIGGERED.model_copy(update={"id": f"test.reopened_{uuid.uuid4().hex[:8]}"})
    context = _context(github_org, tmp_path / "data", responses=True, workflow=workflow)
    hook = next(h for h in github_org.state.repo("api")["_hooks"] if h["id"] == 11)
    async with build_worker(dev_env.client, context, task_queue=queue):
        first = await run_scan(dev_env.client, queue)
        for rid in first.responses_started:
            await wait_response_idle(dev_env.client, rid)
        hook["config"]["insecure_ssl"] = "0"
        fixed = await run_scan(dev_env.client, queue)
        hook["config"]["insecure_ssl"] = "1"
        again = await run_scan(dev_env.client, queue)
    fingerprint = next(
        r.finding.fingerprint for r in context.ledger.rows("github:acme") if r.finding.resource.id == HOOKS[0]
    )
    run_id = run_id_for(workflow.id, "github:acme", fingerprint)
    assert run_id in first.responses_started and fixed.gone == 1
    assert again.new + again.still_open == len(HOOKS) and again.responses_started == [], again
    runs = [e async for e in dev_env.client.list_workflows(f"WorkflowId = '{run_id}'")]
    assert len(runs) == 1, runs
    context.close()
