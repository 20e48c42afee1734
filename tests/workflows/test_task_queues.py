"""Task queues by role: workflows route every activity to its role's queue, and workers serve only their roles."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from mendflow.errors import InputError
from mendflow.models import Outcome
from mendflow.routing import ROLE_OF, Activity, Role, parse_roles, queue_of
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from tests.conftest import SimulatedOrg
from tests.workflows.helpers import campaign_results, run_scan


def test_roles_parse_in_canonical_order_and_unknown_ones_are_refused() -> None:
    """`--queues` takes any subset of the roles; a typo is the user's mistake, named in the message."""
    assert parse_roles("integrations, scan") == (Role.scan, Role.integrations)
    with pytest.raises(InputError, match=r"unknown role.*scna"):
        parse_roles("scna,remediation")
    with pytest.raises(InputError):
        parse_roles(" , ")


def test_worker_with_an_unknown_queue_role_exits_2_without_a_traceback(tmp_path: Path) -> None:
    """`mendflow worker --queues bogus` stops before connecting: exit 2, one line, no traceback."""
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants: []\n")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mendflow"), "worker", "--temporal-address", "127.0.0.1:1",
         "--tenants", str(tenants), "--queues", "scan,bogus"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "bogus" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
async def test_scan_and_campaign_run_on_workers_split_by_role(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, worker_context: WorkerContext, tmp_path: Path
) -> None:
    """A scan worker and a remediation worker (own data directories): the loop completes, and every activity was
    scheduled on its role's queue."""
    queue = f"q-{uuid.uuid4()}"
    fixer = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path / "fixer", playbooks=dict(worker_context.playbooks)
    )
    # A second connection stands for the second process (one client may not run two workers on one queue).
    other = await connect(TemporalSettings(address=dev_env.client.service_client.config.target_host))
    async with (
        build_worker(dev_env.client, worker_context, task_queue=queue, roles=(Role.scan,)) as scans,
        build_worker(other, fixer, task_queue=queue, roles=(Role.remediation,)) as fixes,
    ):
        assert scans.task_queues == [queue, f"{queue}.scan"]
        assert fixes.task_queues == [queue, f"{queue}.remediation"]
        scan = await run_scan(dev_env.client, queue)
        results = await campaign_results(dev_env.client, scan)
    fixer.close()
    assert results and all(c.outcome == Outcome.verified for r in results.values() for c in r.changes)
    ids = [*scan.campaigns_started]
    async for execution in dev_env.client.list_workflows(f"TaskQueue = '{queue}' AND WorkflowType = 'ScanWorkflow'"):
        ids.append(execution.id)
    scheduled = []
    for workflow_id in ids:
        history = await dev_env.client.get_workflow_handle(workflow_id).fetch_history()
        scheduled += [
            e.activity_task_scheduled_event_attributes
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]
    roles = set()
    for attributes in scheduled:
        name = Activity(attributes.activity_type.name)
        assert attributes.task_queue.name == queue_of(queue, name), name
        roles.add(ROLE_OF[name])
    assert roles == {Role.scan, Role.remediation}
