"""Suppressions (accepted risk with a durable expiry) and refused operator controls."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from mendflow.models import AuthMethod, Channel
from mendflow.playbooks.model import Playbook
from mendflow.rbac import Person, RbacConfig
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, OperatorRequest, SuppressionInput, SuppressionResult
from tests.conftest import SimulatedOrg
from tests.signing import SIGNER, signed_request, trusting
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


def request(handle, verb: str, person: str) -> OperatorRequest:  # type: ignore[no-untyped-def]
    return signed_request(handle.id, verb, person, LEADS, "test")


def suppression(workflow_id: str, fingerprint: str, person: str, reason: str, expires_at: datetime) -> SuppressionInput:
    """A suppression signed the way the API signs it (for the workflow id it will run under)."""
    groups = LEADS.groups_of(person)
    proof = SIGNER.sign(workflow_id=workflow_id, verb="suppress", actor=person, groups=groups,
                        auth=AuthMethod.token, channel=Channel.cli, reason=reason)  # fmt: skip
    return SuppressionInput(fingerprint=fingerprint, reason=reason, requested_by=person, groups=groups,
                            expires_at=expires_at, proof=proof)  # fmt: skip


async def test_suppression_parks_a_finding_and_its_timer_reopens_it(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """A lead accepts the risk for 30 days: the ledger says suppressed, no campaign; at expiry it is open again."""
    ctx = WorkerContext(
        registry=github_org.registry(),
        data_dir=tmp_path,
        playbooks={NOTIFY.id: NOTIFY},
        settings=trusting(Settings(rbac=LEADS)),
    )
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, ctx, task_queue=queue):
        await run_scan(time_env.client, queue)
        finding = ctx.ledger.rows("github:acme")[0].finding
        handle = await time_env.client.start_workflow(
            "SuppressionWorkflow",
            suppression(
                f"suppress/{finding.fingerprint}",
                finding.fingerprint,
                "lead",
                "repo is a public mirror; scanning happens upstream",
                (await _now(time_env)) + timedelta(days=30),
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
        registry=github_org.registry(),
        data_dir=tmp_path,
        playbooks={NOTIFY.id: NOTIFY},
        settings=trusting(Settings(rbac=LEADS)),
    )
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, ctx, task_queue=queue):
        await run_scan(time_env.client, queue)
        finding = ctx.ledger.rows("github:acme")[0].finding
        result = await time_env.client.execute_workflow(
            "SuppressionWorkflow",
            suppression(
                f"suppress/{finding.fingerprint}",
                finding.fingerprint,
                "mallory",
                "because",
                (await _now(time_env)) + timedelta(days=1),
            ),
            id=f"suppress/{finding.fingerprint}",
            task_queue=queue,
            result_type=SuppressionResult,
        )
    assert "may not accept risks" in result.refused and not result.reopened
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
                await handle.execute_update(control, request(handle, control, person), result_type=str)
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
