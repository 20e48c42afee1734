"""ScanWorkflow + RemediationWorkflow end to end on the real Temporal dev server and a simulated GitHub org."""

from __future__ import annotations

import asyncio
import copy
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from mendflow.models import Outcome
from mendflow.routing import Role
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import SettleInput
from tests.conftest import SimulatedOrg
from tests.workflows.helpers import campaign_results, run_scan

pytestmark = pytest.mark.slow


async def test_scan_fixes_auto_findings_and_verifies_each(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, worker_context: WorkerContext
) -> None:
    """Every auto playbook's finding is fixed in the simulator and verified; approval-mode ones are untouched."""
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, worker_context, task_queue=queue):
        scan = await run_scan(dev_env.client, queue)
        results = await campaign_results(dev_env.client, scan)
    state = github_org.state
    assert scan.findings > 0 and scan.new == scan.findings
    assert "github.repo_hook.insecure_ssl" in results
    assert all(c.outcome == Outcome.verified for r in results.values() for c in r.changes), results
    hooks = {h["id"]: h for repo in ("api", "web") for h in state.repo(repo)["_hooks"]}
    assert hooks[11]["config"]["insecure_ssl"] == "0" and hooks[21]["config"]["insecure_ssl"] == "0"
    assert hooks[12]["config"]["insecure_ssl"] == "0"  # was already compliant
    assert all(h["config"]["insecure_ssl"] == "0" for h in state.hooks)
    assert state.repo("web")["security_and_analysis"]["secret_scanning"]["status"] == "enabled"
    assert state.repo("infra")["security_and_analysis"]["secret_scanning"]["status"] == "enabled"
    # Base permission is an approval-mode playbook: nothing may change it without a decision.
    assert state.org["default_repository_permission"] == "write"
    change = results["github.repo_hook.insecure_ssl"].changes[0]
    assert change.before == {"insecure_ssl": "1"} and change.after == {"insecure_ssl": "0"}


async def test_second_scan_starts_no_duplicate_campaign(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, worker_context: WorkerContext
) -> None:
    """While campaigns are pending, a second scan of the same state starts none of its own."""
    queue = f"q-{uuid.uuid4()}"
    # A worker with the scan role only: campaigns start, but their steps wait on the remediation queue.
    async with build_worker(dev_env.client, worker_context, task_queue=queue, roles=(Role.scan,)):
        first = await run_scan(dev_env.client, queue)
        second = await run_scan(dev_env.client, queue)
    assert first.campaigns_started
    assert second.campaigns_started == [] and second.new == 0 and second.still_open == first.findings
    async with build_worker(dev_env.client, worker_context, task_queue=queue):
        results = await campaign_results(dev_env.client, first)
    assert all(c.outcome == Outcome.verified for r in results.values() for c in r.changes)
    fixed = sum(len(r.changes) for r in results.values())
    third = await _scan_with_worker(dev_env, worker_context, queue)
    # The fixed findings are gone (settled as resolved by their campaign); only non-auto ones remain open.
    assert third.campaigns_started == [] and third.new == 0
    assert third.findings == first.findings - fixed == third.still_open


async def _scan_with_worker(dev_env: WorkflowEnvironment, context: WorkerContext, queue: str):  # type: ignore[no-untyped-def]
    async with build_worker(dev_env.client, context, task_queue=queue):
        return await run_scan(dev_env.client, queue)


async def test_failed_canary_is_restored_and_stops_the_rollout(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """A canary the re-scan does not confirm is restored field by field and the rollout goes no further."""
    from mendflow.playbooks.loader import load_playbook_file

    stubborn = load_playbook_file(github_org_playbook(tmp_path))
    context = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path / "data", playbooks={stubborn.id: stubborn}
    )
    before = copy.deepcopy({h["id"]: h["config"] for h in github_org.state.repo("api")["_hooks"]})
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, context, task_queue=queue):
        scan = await run_scan(dev_env.client, queue)
        results = await campaign_results(dev_env.client, scan)
    status = results[stubborn.id]
    outcomes = [c.outcome for c in status.changes]
    # The canary (first target) failed verification and was restored; the rollout never went further.
    assert outcomes[0] == Outcome.restored and set(outcomes[1:]) == {Outcome.planned}
    assert status.state == "rolled_back" and status.batches_total > 1 and status.batch == 1
    after = {h["id"]: h["config"] for h in github_org.state.repo("api")["_hooks"]}
    assert after == before
    statuses = {row.finding.resource.id: row.status.value for row in context.ledger.rows("github:acme")}
    assert sorted(statuses.values()) == ["open", "open", "rolled_back"]


def github_org_playbook(folder: Path) -> Path:
    """A playbook whose action cannot satisfy its own rule: verification must fail."""
    path = folder / "stubborn.yaml"
    path.write_text(
        "apiVersion: mendflow/v1\n"
        "id: github.test.stubborn_hook\n"
        "title: Hooks must verify TLS and not send JSON (unfixable by this action)\n"
        "resource: github.repo_hook\n"
        "detect:\n"
        '  when: string(resource.config.insecure_ssl) == "1" || resource.config.content_type == "json"\n'
        "  severity: low\n"
        "respond:\n"
        "  mode: auto\n"
        "  action: github.repo_hook.update_config\n"
        '  with: {insecure_ssl: "0"}\n'
    )
    return path


async def test_a_finished_campaign_is_idle_only_once_the_ledger_records_it(
    dev_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """wait_idle answered "rolled_back" while the ledger still said remediating (the settle activity had not run):
    `mendflow scan --tenant` and the test above could read a stale ledger. A slow ledger write shows the race."""
    from temporalio import activity

    from mendflow.playbooks.loader import load_playbook_file
    from mendflow.routing import Activity
    from mendflow.runtime import worker as worker_module

    real = worker_module.activities_by_name

    def slow_settle(context: WorkerContext):  # type: ignore[no-untyped-def]
        implementations = real(context)
        settle = implementations[Activity.settle_findings]

        @activity.defn(name=Activity.settle_findings.value)
        async def delayed(step: SettleInput) -> None:
            await asyncio.sleep(1.5)  # the real ledger write, late: the race window made wide
            return await settle(step)

        implementations[Activity.settle_findings] = delayed
        return implementations

    monkeypatch.setattr(worker_module, "activities_by_name", slow_settle)
    stubborn = load_playbook_file(github_org_playbook(tmp_path))
    context = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path / "data", playbooks={stubborn.id: stubborn}
    )
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(dev_env.client, context, task_queue=queue):
        scan = await run_scan(dev_env.client, queue)
        results = await campaign_results(dev_env.client, scan)
        statuses = sorted(row.status.value for row in context.ledger.rows("github:acme"))
    assert results[stubborn.id].state == "rolled_back"
    assert statuses == ["open", "open", "rolled_back"]
