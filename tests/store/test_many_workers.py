"""Three worker processes with separate data directories, one Temporal dev server and one PostgreSQL give the
same scan and campaign results as one worker: no activity depends on the worker it runs on."""

from __future__ import annotations

import contextlib
import copy
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path
from typing import IO, Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from mendflow.data import demo_tenant_path
from mendflow.playbook import Playbook
from mendflow.redaction import register_secret
from mendflow.runtime.worker import build_worker
from mendflow.sim.github import create_github_app
from mendflow.sim.server import serve_in_thread
from mendflow.store import DATABASE_URL_ENV
from mendflow.tenant import load_tenant_file
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, ScanResult
from tests.conftest import SimulatedOrg
from tests.store.postgres import PostgresServer
from tests.workflows.helpers import campaign_results, run_scan

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


def _summary(scan: ScanResult, results: dict[str, CampaignStatus], state: Any) -> dict[str, Any]:
    """What must not depend on how many workers ran it: counts, outcomes per resource, the tenant afterwards."""
    return {
        "scan": (scan.resources, scan.findings, scan.new, scan.gone, len(scan.campaigns_started), scan.gaps),
        "campaigns": {
            playbook: (status.state, sorted((c.resource.id, c.outcome.value) for c in status.changes))
            for playbook, status in results.items()
        },
        "org hooks": [(h["id"], copy.deepcopy(h["config"])) for h in state.hooks],
        "repo hooks": {
            name: [(h["id"], copy.deepcopy(h["config"])) for h in state.repo(name)["_hooks"]] for name in ("api", "web")
        },
        "repo security": {
            name: copy.deepcopy(state.repo(name)["security_and_analysis"]) for name in ("api", "web", "infra")
        },
        "org settings": {k: v for k, v in state.org.items() if not k.endswith("_at")},
    }


def _worker_errors(tmp_path: Path) -> list[str]:
    return [w.read_text()[-2000:] for w in sorted(tmp_path.glob("w*.err"))]


def _spawn(args: list[str], errors: IO[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """A `cluster_worker` process (its stderr kept for diagnosis)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.cluster_worker", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True, env=env,
    )  # fmt: skip


async def _workers_that_ran(env: WorkflowEnvironment, workflow_ids: list[str]) -> set[str]:
    identities = set()
    for workflow_id in workflow_ids:
        async for event in env.client.get_workflow_handle(workflow_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                identities.add(event.activity_task_started_event_attributes.identity)
    return identities


async def test_three_workers_on_one_postgres_match_one_worker(
    dev_env: WorkflowEnvironment,
    github_org: SimulatedOrg,
    shipped_playbooks: list[Playbook],
    postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    """Scan + every campaign it starts: identical results and tenant state; activities ran on several workers."""
    context = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path / "single", playbooks={p.id: p for p in shipped_playbooks}
    )
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, context, task_queue=queue):
        scan = await run_scan(dev_env.client, queue)
        single = _summary(scan, await campaign_results(dev_env.client, scan), github_org.state)
    context.close()

    token = "ghp_" + secrets.token_hex(18)
    register_secret(token)
    token_env = f"MENDFLOW_CLUSTER_TOKEN_{secrets.token_hex(3).upper()}"
    app = create_github_app(load_tenant_file(demo_tenant_path()), token=token)
    env = {**os.environ, token_env: token, DATABASE_URL_ENV: postgres.create_database()}
    address = dev_env.client.service_client.config.target_host
    queue = f"cluster-{uuid.uuid4()}"
    procs = []
    with serve_in_thread(app) as server, contextlib.ExitStack() as stack:
        try:
            for n in range(3):
                errors = stack.enter_context((tmp_path / f"w{n}.err").open("w"))
                args = [address, queue, str(tmp_path / f"w{n}"), server.base_url, token_env]
                procs.append(_spawn(args, errors, env))
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            scan = await run_scan(dev_env.client, queue)
            many = _summary(scan, await campaign_results(dev_env.client, scan), app.state.github)
            ran_on = await _workers_that_ran(dev_env, [*scan.campaigns_started])
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
    assert many == single, _worker_errors(tmp_path)
    assert single["scan"][1] > 0 and single["campaigns"]
    assert len(ran_on) >= 2, ran_on
