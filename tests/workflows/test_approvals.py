"""The approval gate: validators refuse without changing anything, escalation and expiry on durable timers."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from mendflow.models import Channel, Decision, DecisionOutcome, Outcome, Verdict
from mendflow.runtime.worker import build_worker
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus
from tests.conftest import SimulatedOrg
from tests.signing import signed_decision
from tests.workflows.campaigns import RBAC, hook_configs, hook_playbook, settings, start_campaign


def context_for(org: SimulatedOrg, tmp_path: Path, playbook, changes=None) -> WorkerContext:  # type: ignore[no-untyped-def]
    return WorkerContext(
        registry=org.registry(),
        data_dir=tmp_path / "data",
        playbooks={playbook.id: playbook},
        settings=settings(changes),
    )


def vote(handle, person: str, verdict: Verdict = Verdict.approve, reason: str = "looks right") -> Decision:  # type: ignore[no-untyped-def]
    """A decision signed the way the API signs it, for this campaign."""
    return signed_decision(handle.id, person, RBAC, verdict, reason)


async def idle(handle) -> CampaignStatus:  # type: ignore[no-untyped-def]
    status: CampaignStatus = await handle.execute_update("wait_idle", result_type=CampaignStatus)
    return status


async def refused(handle, decision: Decision) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update("decide", decision, result_type=DecisionOutcome)
    return str(err.value.cause)


async def test_unanswered_campaign_escalates_then_expires_and_changes_nothing(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """30 min without a decision escalates; at 4 h it expires: hooks untouched, the record says why."""
    playbook = hook_playbook()
    before = hook_configs(github_org.state)
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context_for(github_org, tmp_path, playbook), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook)
        assert (await idle(handle)).state == "awaiting_approval"
        result = await handle.result()  # hours pass in milliseconds
        status = await handle.query("status", result_type=CampaignStatus)
    assert result.outcome == "expired" and result.changes == []
    events = [e["event"] for e in status.timeline]
    assert events.index("escalated") < events.index("expired")
    assert status.escalated and "nothing was changed" in status.timeline[-2]["detail"] + status.timeline[-1]["detail"]
    assert hook_configs(github_org.state) == before


async def test_every_refused_decision_changes_nothing(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """Not an approver, the requester, a rejection without reason, a second vote, a decided gate: all refused."""
    playbook = hook_playbook()
    before = hook_configs(github_org.state)
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context_for(github_org, tmp_path, playbook), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook, requested_by="alice")
        waiting = await idle(handle)
        assert "may not approve" in await refused(handle, vote(handle, "mallory"))
        assert "requester" in await refused(handle, vote(handle, "alice"))
        assert "needs a reason" in await refused(handle, vote(handle, "bob", Verdict.reject, reason=" "))
        unchanged = await handle.query("status", result_type=CampaignStatus)
        assert unchanged.decisions == [] and unchanged.state == "awaiting_approval"
        assert unchanged.timeline == waiting.timeline and hook_configs(github_org.state) == before
        outcome = await handle.execute_update("decide", vote(handle, "bob"), result_type=DecisionOutcome)
        assert outcome.accepted and outcome.state == "approved"
        assert "not awaiting a decision" in await refused(handle, vote(handle, "carol"))
        done = await idle(handle)
    assert done.state == "completed"
    assert [d.approver for d in done.decisions] == ["bob"] and done.decisions[0].at is not None


async def test_critical_playbooks_need_two_distinct_approvers(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """N-of-M: the first approval is recorded, the same person again is refused, a second person releases it."""
    playbook = hook_playbook(severity="critical")
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context_for(github_org, tmp_path, playbook), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook)
        await idle(handle)
        first = await handle.execute_update("decide", vote(handle, "alice"), result_type=DecisionOutcome)
        assert first.accepted and "1 more distinct approver" in first.message
        assert "already decided" in await refused(handle, vote(handle, "alice"))
        assert (await handle.query("status", result_type=CampaignStatus)).state == "awaiting_approval"
        second = await handle.execute_update("decide", vote(handle, "bob"), result_type=DecisionOutcome)
        assert second.state == "approved"
        done = await idle(handle)
    assert done.state == "completed" and all(c.outcome == Outcome.verified for c in done.changes)


async def test_rejection_changes_nothing_and_records_why(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """A rejected campaign ends without a write; the decision keeps who, channel and reason."""
    playbook = hook_playbook()
    before = hook_configs(github_org.state)
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context_for(github_org, tmp_path, playbook), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook)
        await idle(handle)
        await handle.execute_update("decide", vote(handle, "carol", Verdict.reject, "receiver pins a self-signed cert"))
        result = await handle.result()
        status = await handle.query("status", result_type=CampaignStatus)
    assert result.outcome == "rejected" and hook_configs(github_org.state) == before
    decision = status.decisions[0]
    assert (decision.approver, decision.channel, decision.reason) == (
        "carol",
        Channel.cli,
        "receiver pins a self-signed cert",
    )


async def test_targets_fixed_while_waiting_are_skipped_not_written(
    time_env: WorkflowEnvironment, github_org: SimulatedOrg, tmp_path: Path
) -> None:
    """Fresh before acting: a hook someone fixed by hand during the wait is re-read, skipped and reported."""
    playbook = hook_playbook()
    queue = f"q-{uuid.uuid4()}"
    async with build_worker(time_env.client, context_for(github_org, tmp_path, playbook), task_queue=queue):
        handle = await start_campaign(time_env.client, queue, playbook)
        await idle(handle)
        hook = next(h for h in github_org.state.repo("api")["_hooks"] if h["id"] == 11)
        hook["config"]["insecure_ssl"] = "0"
        hook["config"]["url"] = "https://ci.acme.example/hooks/github-v2"  # a hand edit we must not overwrite
        await handle.execute_update("decide", vote(handle, "bob"), result_type=DecisionOutcome)
        done = await idle(handle)
    outcomes = {c.resource.id: c.outcome for c in done.changes}
    assert outcomes == {"/repos/acme/api/hooks/11": Outcome.skipped, "/repos/acme/web/hooks/21": Outcome.verified}
    assert hook_configs(github_org.state)[11]["url"] == "https://ci.acme.example/hooks/github-v2"
