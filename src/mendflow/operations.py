"""Operator actions on campaigns and findings, channel-neutral: the CLI (and later other channels) call these.

Every request carries the person's identity and their groups from the RBAC config; the workflow's update
validators make the final decision, so what a channel shows is what Temporal accepted.
"""

from __future__ import annotations

from datetime import datetime

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from mendflow.errors import InputError, MendflowError
from mendflow.models import Channel, Decision, DecisionOutcome, Verdict
from mendflow.rbac import RbacConfig
from mendflow.runtime.client import TASK_QUEUE
from mendflow.workflow_types import CampaignStatus, OperatorRequest, SuppressionInput


class Refused(MendflowError):
    """The workflow refused the request (validator): nothing changed. The message says why."""


def _refusal(err: WorkflowUpdateFailedError) -> Refused:
    cause = err.cause
    message = getattr(cause, "message", None) or str(cause) or str(err)
    return Refused(f"refused: {message}")


async def _update(client: Client, campaign_id: str, name: str, arg: object, result_type: type) -> object:
    handle = client.get_workflow_handle(campaign_id)
    try:
        return await handle.execute_update(name, arg, result_type=result_type)
    except WorkflowUpdateFailedError as err:
        raise _refusal(err) from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise InputError(f"no campaign {campaign_id!r} (or it has already finished)") from None
        raise


async def decide(
    client: Client, campaign_id: str, *, person: str, rbac: RbacConfig, verdict: Verdict, reason: str,
    channel: Channel = Channel.cli, channel_user: str = "",
) -> DecisionOutcome:  # fmt: skip
    decision = Decision(
        approver=person,
        groups=rbac.groups_of(person),
        verdict=verdict,
        channel=channel,
        reason=reason,
        channel_user=channel_user,
    )
    outcome = await _update(client, campaign_id, "decide", decision, DecisionOutcome)
    assert isinstance(outcome, DecisionOutcome)
    return outcome


async def operate(client: Client, campaign_id: str, control: str, *, person: str, rbac: RbacConfig, reason: str) -> str:
    """`pause`, `resume`, `abort` or `rollback` a campaign as `person`."""
    request = OperatorRequest(operator=person, groups=rbac.groups_of(person), channel=Channel.cli, reason=reason)
    message = await _update(client, campaign_id, control, request, str)
    return str(message)


async def status(client: Client, campaign_id: str) -> CampaignStatus:
    try:
        result: CampaignStatus = await client.get_workflow_handle(campaign_id).query(
            "status", result_type=CampaignStatus
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise InputError(f"no campaign {campaign_id!r}") from None
        raise
    return result


async def running_campaigns(client: Client) -> list[CampaignStatus]:
    out = []
    async for execution in client.list_workflows(
        "WorkflowType = 'RemediationWorkflow' AND ExecutionStatus = 'Running'"
    ):
        out.append(await status(client, execution.id))
    return sorted(out, key=lambda s: s.campaign_id)


async def suppress(
    client: Client, fingerprint: str, *, person: str, rbac: RbacConfig, reason: str, expires_at: datetime
) -> str:
    """Start the durable suppression; the worker checks RBAC before anything changes."""
    if not reason.strip():
        raise InputError("a suppression needs a reason (--reason)")
    workflow_id = f"suppress/{fingerprint}/{int(expires_at.timestamp())}"
    await client.start_workflow(
        "SuppressionWorkflow",
        SuppressionInput(
            fingerprint=fingerprint,
            reason=reason,
            requested_by=person,
            groups=rbac.groups_of(person),
            expires_at=expires_at,
        ),
        id=workflow_id,
        task_queue=TASK_QUEUE,
    )
    return workflow_id
