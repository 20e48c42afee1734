"""Suppressions (accepted risk with a durable expiry) and refused operator controls."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from mendflow.models import Channel
from mendflow.playbook import Playbook
from mendflow.rbac import Person, RbacConfig
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, OperatorRequest, SuppressionInput, SuppressionResult
from tests.conftest import SimulatedOrg
from tests.workflows.campaigns import RBAC, hook_configs, hook_playbook, settings, start_campaign
from tests.workflows.helpers import run_scan

NOTIFY = Playbook.model_validate(
    {
        "apiVersion": "mendflow/v1",
        "id": "github.repo.secret_scanning_disabled",
        "title": "Secret scanning must be on",
        "resource": "github.repo",
        "detect": {
            "when": 'resource.security_and_analysis.secret_scanning.status == "disabled"',
            "severity": "high",
        },
    }
)
LEADS = RbacConfig(people={**RBAC.people, "lead": Person(groups=("secops-leads",))})


def request(person: str) -> OperatorRequest:
    return OperatorRequest(operator=person, groups=LEADS.groups_of(person), channel=Channel.cli, reason="test")


async def test_suppression_parks_a_finding_and_its_timer_reopens_it(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """A lead accepts the risk for 30 days: the ledger says suppressed, no campaign; at expiry it is open again."""
    ctx = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path, playbooks={NOTIFY.id: NOTIFY}, settings=Settings(rbac=LEADS)
    )
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, ctx, task_queue=queue):
        await run_scan(time_env.client, queue)
        finding = ctx.ledger.rows("github:acme")[0].finding
        handle = await time_env.client.start_workflow(
            "SuppressionWorkflow",
            SuppressionInput(
                fingerprint=finding.fingerprint,
                reason="repo is a public mirror; scanning happens upstream",
                requested_by="lead",
                expires_at=(await _now(time_env)) + timedelta(days=30),
            ),
            id=f"suppress/{finding.fingerprint}",
            task_queue=queue,
            result_type=SuppressionResult,
        )
        await _eventually(lambda: ctx.ledger.find(finding.fingerprint).status.value == "suppressed")  # type: ignore[union-attr]
        rescan = await run_scan(time_env.client, queue)
        assert rescan.campaigns_started == [] and rescan.new == 0
        assert ctx.ledger.find(finding.fingerprint).status.value == "suppressed"  # type: ignore[union-attr]
        result = await handle.result()  # thirty days pass
    assert result.reopened and ctx.ledger.find(finding.fingerprint).status.value == "open"  # type: ignore[union-attr]


async def test_suppression_by_someone_not_allowed_is_refused_and_changes_nothing(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """Only suppressors (RBAC) may accept a risk; a refusal leaves the finding open."""
    ctx = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path, playbooks={NOTIFY.id: NOTIFY}, settings=Settings(rbac=LEADS)
    )
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, ctx, task_queue=queue):
        await run_scan(time_env.client, queue)
        finding = ctx.ledger.rows("github:acme")[0].finding
        with pytest.raises(WorkflowFailureError) as err:
            await time_env.client.execute_workflow(
                "SuppressionWorkflow",
                SuppressionInput(
                    fingerprint=finding.fingerprint,
                    reason="because",
                    requested_by="mallory",
                    expires_at=(await _now(time_env)) + timedelta(days=1),
                ),
                id=f"suppress/{finding.fingerprint}",
                task_queue=queue,
            )
    assert "may not accept risks" in str(err.value.cause.cause)  # type: ignore[union-attr]
    assert ctx.ledger.find(finding.fingerprint).status.value == "open"  # type: ignore[union-attr]


async def test_operator_controls_refuse_what_makes_no_sense_and_change_nothing(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """Pause by a non-approver, resume when not paused, rollback while awaiting approval: refused, state intact."""
    playbook = hook_playbook()
    before = hook_configs(github_org.state)
    ctx = WorkerContext(
        registry=github_org.registry(), data_dir=tmp_path, playbooks={playbook.id: playbook}, settings=settings()
    )
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, ctx, task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook)
        waiting = await handle.execute_update("wait_idle", result_type=CampaignStatus)
        for control, person, why in [
            ("pause", "mallory", "may not operate"),
            ("resume", "alice", "not paused"),
            ("rollback", "alice", "only a finished or aborted rollout"),
        ]:
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await handle.execute_update(control, request(person), result_type=str)
            assert why in str(err.value.cause)
        after = await handle.query("status", result_type=CampaignStatus)
    assert after.timeline == waiting.timeline and after.state == "awaiting_approval" and not after.paused
    assert hook_configs(github_org.state) == before


async def _now(env: WorkflowEnvironment):  # type: ignore[no-untyped-def]
    return await env.get_current_time()


async def _eventually(predicate) -> None:  # type: ignore[no-untyped-def]
    """Wait (bounded) until the predicate holds: the ledger is a file, there is no event to wait on."""
    import asyncio

    async with asyncio.timeout(20):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
