"""`temporal_decider`: a Slack decision becomes a SIGNED `decide` workflow update; validator refusals come back as
text."""

from __future__ import annotations

import uuid

import pytest
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from mendflow.api.app import temporal_decider
from mendflow.api.operations import Operations
from mendflow.auth.proof import matches, verify
from mendflow.models import AuthMethod, Channel, Decision, DecisionOutcome, Verdict
from tests.signing import SIGNER

pytestmark = pytest.mark.slow


@workflow.defn(name="DecideProbe")
class DecideProbe:
    """The shape of the lead's approval gate: an update `decide(Decision) -> DecisionOutcome` with a validator."""

    def __init__(self) -> None:
        self.approved = False

    @workflow.run
    async def run(self) -> bool:
        await workflow.wait_condition(lambda: self.approved)
        return self.approved

    @workflow.update(name="decide")
    def decide(self, decision: Decision) -> DecisionOutcome:
        self.approved = True
        return DecisionOutcome(accepted=True, message=f"approved by {decision.approver}", state="approved")

    @decide.validator
    def check(self, decision: Decision) -> None:
        # the whole proof, as the real gate checks it: a valid signature over this decision, made for Slack
        claims = verify(
            decision.proof, trusted=SIGNER.trusted, workflow_id=workflow.info().workflow_id, verb="decide",
            now=workflow.now(),
        )  # fmt: skip
        matches(claims, actor=decision.approver, groups=decision.groups, verdict=decision.verdict.value,
                channel=decision.channel, channel_user=decision.channel_user, auth=AuthMethod.slack)  # fmt: skip
        if "secops-oncall" not in decision.groups:
            raise ValueError(f"{decision.approver} may not approve: needs group:secops-oncall")


def _decision(who: str, *groups: str) -> Decision:
    return Decision(approver=who, groups=groups, verdict=Verdict.approve, channel=Channel.slack, channel_user="U0X")


async def test_update_accepted_refused_and_not_running(dev_env: WorkflowEnvironment) -> None:
    """Validator refusal → refused outcome with its message; accepted → the update's result; finished → not running."""
    queue = f"decider-{uuid.uuid4()}"
    campaign = f"camp-{uuid.uuid4()}"
    async with Worker(
        dev_env.client, task_queue=queue, workflows=[DecideProbe], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        handle = await dev_env.client.start_workflow(DecideProbe.run, id=campaign, task_queue=queue)
        decide = temporal_decider(Operations(dev_env.client, SIGNER, None))
        refused = await decide(campaign, _decision("mallory"))
        assert not refused.accepted and "mallory may not approve" in refused.message
        accepted = await decide(campaign, _decision("alice", "secops-oncall"))
        assert accepted == DecisionOutcome(accepted=True, message="approved by alice", state="approved")
        assert await handle.result() is True
        late = await decide(campaign, _decision("alice", "secops-oncall"))
        assert not late.accepted and "is not running" in late.message
        unknown = await decide("camp-does-not-exist", _decision("alice", "secops-oncall"))
        assert not unknown.accepted and "is not running" in unknown.message
