"""Response-workflow activities: the vendor side of `read`, `action`, `snapshot`, `approve`, `notify` and `ticket`
steps.

An `action` step is a campaign change of one resource: capture (the fields the action writes, read now) →
apply (write only if they differ) → verify (re-read), every write and restore on the audit chain with its
before/after digests. The recipe is the connectors' `FieldAction`, shared with campaigns; the restore is the
campaigns' own `restore_change` activity. What campaigns add — re-evaluating a detection rule — has no meaning
here: a response step proves itself by the re-read alone.
"""

from __future__ import annotations

import re

from mendflow.activities.integration_failures import classify
from mendflow.activities.publish import PublishActivities
from temporalio import activity

from mendflow.actions import ACTIONS
from mendflow.connectors.http import heartbeat_while_waiting
from mendflow.connectors.registry import get_action, open_session
from mendflow.errors import ActionError, AuthError, ConnectionProblem, InputError, MendflowError, VendorError
from mendflow.evidence.changes import record_change
from mendflow.integrations.slack import MessageRef
from mendflow.integrations.slack_targets import slack_target
from mendflow.models import Change, Outcome, fingerprint
from mendflow.redaction import redact, redact_value
from mendflow.responses.messages import (
    CaptureInput,
    EvidenceInput,
    GateInput,
    NotifyInput,
    NotifyResult,
    ReadInput,
    TicketInput,
    TicketResult,
)
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignPlanDetail, ChangeStep, StepOutcome

from .failures import cannot_retry
from .heartbeats import beat_while_waiting
from .response_ticket import TicketTry

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")
_EMAIL = re.compile(r"^[^@\s:#]+@[^@\s]+\.[^@\s]+$")


def _person(channel: str | None) -> str | None:
    """The person a notify step addresses (an RBAC name from `user:NAME`, a Slack user id or an e-mail address),
    or None."""
    if not channel:
        return None
    kind, _, name = channel.partition(":")
    if kind == "user" and name:
        return name
    return channel if _SLACK_USER.match(channel) or _EMAIL.match(channel) else None


class ResponseActivities:
    def __init__(self, context: WorkerContext, publish: PublishActivities | None = None) -> None:
        self.ctx = context
        self._publish = publish or PublishActivities(context)
        """The Slack client and channel rules the campaigns' cards use."""

    @activity.defn(name="read_resource")
    async def read_resource(self, request: ReadInput) -> dict[str, object]:
        """GET one resource path of the tenant; a 404 or a refused read fails the step for good."""
        try:
            with heartbeat_while_waiting(beat_while_waiting):
                async with open_session(self.ctx.registry.get(request.tenant_key)) as session:
                    body = await session.http.get_json(request.path)
        except (InputError, VendorError) as err:  # a 404 or a refusal: trying again gives the same answer
            raise cannot_retry(err) from None
        # The object becomes workflow history and later steps' input: registered secrets and secret-named fields
        # are masked here, before it leaves the worker.
        safe = redact_value(body)
        return safe if isinstance(safe, dict) else {"items": safe}

    @activity.defn(name="capture_response_step")
    async def capture_response_step(self, request: CaptureInput) -> Change:
        """The change an action step will make, with the prior state of exactly the fields it writes."""
        spec = ACTIONS.get(request.action)
        try:
            if spec is None:
                raise ActionError(f"unknown action {request.action!r}")
            params = spec.params.model_validate(request.params)
            action = get_action(request.action)
            with heartbeat_while_waiting(beat_while_waiting):
                async with open_session(self.ctx.registry.get(request.tenant_key)) as session:
                    before = await action.capture(session.http, request.resource.id, params)
        except (ActionError, AuthError, InputError, ValueError) as err:
            raise cannot_retry(err) from None
        return Change(resource=request.resource, action=request.action, before=before, after=params.as_body())

    @activity.defn(name="apply_response_step")
    async def apply_response_step(self, step: ChangeStep) -> StepOutcome:
        """Write the intended fields (only if they differ), then re-read: verified, or failed with what was read.
        Safe to repeat: a retry after a crash finds the write done and only verifies."""
        assert step.change is not None
        change = step.change
        try:
            action = get_action(change.action)
            with heartbeat_while_waiting(beat_while_waiting):
                async with open_session(self.ctx.registry.get(step.tenant_key)) as session:
                    await action.write(session.http, step.resource.id, change.after)
                    activity.heartbeat({"written": step.resource.id})
                    if await action.holds(session.http, step.resource.id, change.after):
                        outcome = StepOutcome(outcome=Outcome.verified)
                    else:
                        current = await action.current(session.http, step.resource.id, list(change.after))
                        detail = f"re-read shows {redact_value(current)}, not the intended state"
                        outcome = StepOutcome(outcome=Outcome.failed, detail=detail)
        except (ActionError, AuthError, InputError) as err:
            raise cannot_retry(err) from None
        tenant = self.ctx.registry.get(step.tenant_key).tenant
        record_change(
            self.ctx.audit,
            self.ctx.snapshots,
            campaign_id=activity.info().workflow_id or "",
            tenant_key=step.tenant_key,
            fingerprint=fingerprint(tenant, step.playbook_id, step.resource.id),
            change=change,
            result=outcome.outcome,
            detail=outcome.detail,
        )
        return outcome

    @activity.defn(name="store_evidence")
    async def store_evidence(self, request: EvidenceInput) -> str:
        """Keep a snapshot step's values (secrets redacted) in the snapshot store; returns the digest."""
        digest: str = self.ctx.snapshots.put_lines(
            [{"run": request.run_id, "step": request.step_id, "values": redact_value(request.values)}]
        )
        return digest

    @activity.defn(name="plan_response_gate")
    async def plan_response_gate(self, request: GateInput) -> CampaignPlanDetail:
        """An approval step as the approval gate knows it: approvers and required count from the RBAC config,
        the keys whose signed decisions count from the WORKER's config (never the workflow input)."""
        rbac = self.ctx.settings.rbac
        return CampaignPlanDetail(
            campaign_id=request.run_id,
            tenant_key=request.tenant_key,
            playbook_id=request.playbook_id,
            title=request.title,
            severity=request.severity,
            compliance=[],
            mode="approval",
            action="",
            reversible=False,
            targets=[],
            approvers=list(rbac.approvers_for(request.playbook_id, request.severity, request.approvers)),
            required_approvals=rbac.required_for(request.severity, request.required),
            approval_timeout=request.timeout,
            escalate_after=request.escalate_after,
            escalate_to=request.escalate_to,
            canary=0,
            batches=[],
            bake=request.timeout * 0,
            max_failures=0,
            writes_per_minute=0,
            target_count=1,
            published=False,
            trusted_keys=dict(self.ctx.settings.security.trusted_keys),
        )

    @activity.defn(name="notify_response")
    async def notify_response(self, request: NotifyInput) -> NotifyResult:
        """Post the text to Slack: to a channel, to a person as a direct message (`user:NAME` through the RBAC
        config's Slack id, a Slack user id `U…`, or an e-mail address through `users.lookupByEmail`:
        `conversations.open` + `chat.postMessage`), or to the playbook's channel. Without Slack configured nothing is
        sent and the step says so; a message that can never be delivered does not fail."""
        config = self.ctx.settings.slack
        if config is None:
            return NotifyResult(delivered=False, detail="Slack is not configured")
        publish = self._publish
        person = _person(request.channel)
        slack = publish.slack(config)
        if person is not None and _EMAIL.match(person):
            try:
                person = await slack.user_by_email(person)
            except MendflowError as err:
                if _worth_retrying(err):
                    raise
                detail = f"no Slack member with the address {person}: {redact(str(err))}"
                return NotifyResult(delivered=False, channel=request.channel or "", detail=detail)
        elif person is not None and not _SLACK_USER.match(person):
            found = self.ctx.settings.rbac.people.get(person)
            if found is None or not found.slack:
                detail = f"no Slack user id for {person} (set rbac.people.{person}.slack)"
                return NotifyResult(delivered=False, channel=request.channel or "", detail=detail)
            person = found.slack
        target = person or slack_target(config, self.ctx.settings.rbac.people, request.channel, request.playbook_id)
        info = activity.info()

        async def post() -> MessageRef:
            sent: MessageRef = await (
                slack.direct_message(person, request.text) if person is not None else slack.notify(target, request.text)
            )
            return sent

        try:
            # Posted once per step whatever retries: recorded by (run, activity) like the campaigns' card posts.
            sent = await self.ctx.idempotency.once(
                info.workflow_id or "", f"slack.notify:{info.activity_id}", MessageRef, post
            )
        except MendflowError as err:
            if _worth_retrying(err):
                raise
            return NotifyResult(delivered=False, channel=target, detail=redact(str(err)))
        return NotifyResult(delivered=True, channel=sent.channel if person is not None else target)

    @activity.defn(name="ticket_response")
    async def ticket_response(self, request: TicketInput) -> TicketResult:
        """Create a Jira issue, or comment on / transition one, once per step whatever retries, workers or timeouts:
        each call is recorded in the shared store under (run, step, what), and a created issue carries its step's
        label, so a later try adopts it (`response_ticket`). Texts are redacted by the Jira client; without Jira
        configured nothing is sent and the step says so."""
        config = self.ctx.settings.jira
        if config is None:
            return TicketResult(detail="Jira is not configured")
        try:
            jira = self._publish.jira(config)
        except MendflowError as err:
            raise classify(err, "Jira") from None
        ticket = TicketTry(self.ctx, jira, request, activity.info())
        issue = request.key if request.key is not None else await ticket.create()
        if request.comment is not None:
            await ticket.comment(issue, request.comment)
        detail = f"{issue}"
        if request.transition is not None:
            skipped = await ticket.transition(issue, request.transition)
            detail = f"{issue}: {skipped}" if skipped else f"{issue} → {request.transition}"
        return TicketResult(key=issue, url=config.browse_url(issue), detail=detail)


def _worth_retrying(err: MendflowError) -> bool:
    """A Slack error the step's `retry` should try again: one Slack marks retryable (5xx, rate limits), or Slack not
    answering at all (a network problem: the next try may get through). The rest — a channel that does not exist, a
    person with no Slack account — never will, so the message is recorded as undelivered instead."""
    return bool(getattr(err, "retryable", False)) or isinstance(err, ConnectionProblem)
