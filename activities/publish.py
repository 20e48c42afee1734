"""Publishing campaigns where people work: the Slack approval card and the Jira ticket.

Without Slack or Jira configured these activities do nothing, so the embedded default works offline.

`publish_campaign` is called by the workflow's publisher whenever the campaign's timeline grows. The first call
posts the card (and creates the ticket); later calls `chat.update` the same message (its channel and ts travel
in `PublishRefs`), comment the new events on the ticket and transition it when the campaign ends (completed →
done, rolled back → reopened). Errors retrying cannot fix (a wrong or revoked token, a missing scope, an unknown
channel or project) are non-retryable and name the token *reference*; everything else is raised for Temporal
to retry with backoff. What one attempt already did (card posted, ticket created, comment added, transition
taken) is recorded in the shared database keyed by (workflow id, step), so a retried attempt — on this worker
or any other, after a crash too — does not post, create, comment or transition twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mendflow.activities.integration_failures import classify
from temporalio import activity
from temporalio.exceptions import ApplicationError

from mendflow.errors import MendflowError
from mendflow.findings.risk import summarize_risk
from mendflow.integrations.cards import CampaignCard, CardState, Progress
from mendflow.integrations.jira_tickets import JiraTickets, JiraTransitionError, TicketRequest
from mendflow.integrations.slack import MessageRef, SlackCards
from mendflow.integrations.slack_targets import slack_target
from mendflow.models import Change, Finding, Outcome
from mendflow.redaction import redact
from mendflow.settings import JiraSettings, SlackSettings
from mendflow.telemetry import get_logger
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, EscalationInput, PublishInput, PublishRefs

log = get_logger(__name__)

T = TypeVar("T")

PUBLISHED_MODES = frozenset({"approval", "ticket"})

_FIXED_STATES: dict[str, CardState] = {
    "approved": CardState.approved,
    "capturing": CardState.approved,
    "canary": CardState.canary_running,
    "baking": CardState.rolling_out,
    "paused": CardState.paused,
    "completed": CardState.verified,
    "nothing_to_do": CardState.verified,
    "completed_with_failures": CardState.completed_with_failures,
    "rolling_back": CardState.rolled_back,
    "rolled_back": CardState.rolled_back,
    "rejected": CardState.rejected,
    "expired": CardState.expired,
    "aborted": CardState.aborted,
}
_CHANGED = {Outcome.applied, Outcome.verified, Outcome.failed, Outcome.restored, Outcome.restore_failed}


def card_state(status: CampaignStatus) -> CardState:
    """The card's state for a workflow state (`batch 2 of 3` → rolling_out, …)."""
    state = status.state
    if state == "awaiting_approval":
        return CardState.escalated if status.escalated else CardState.awaiting_approval
    if state.startswith("batch "):
        return CardState.rolling_out
    if state == "frozen":
        return CardState.rolling_out if status.batch else CardState.approved
    return _FIXED_STATES.get(state, CardState.failed)


def _note(status: CampaignStatus) -> str:
    notes = {
        "frozen": "held by a change freeze window",
        "rolling_back": "rolling back: restoring the captured prior state, newest change first",
        "nothing_to_do": "nothing left to change",
        "capturing": "capturing the current state of every target",
    }
    if status.state in notes:
        return notes[status.state]
    if status.state == "awaiting_approval" and status.escalated and status.plan and status.plan.escalate_to:
        return f"escalated to {status.plan.escalate_to}"
    if card_state(status) is CardState.failed:
        return f"state: {status.state}"
    return ""


def build_card(status: CampaignStatus, *, link: str = "", ticket: str = "", risk: str = "") -> CampaignCard:
    """The approval card for a campaign status (the plan, decisions, per-resource outcomes, progress, risk)."""
    plan = status.plan
    assert plan is not None
    card = CampaignCard.from_plan(
        plan,
        state=card_state(status),
        decisions=status.decisions,
        note=_note(status),
        link=link,
        ticket=ticket,
        risk=risk,
    )
    outcomes = {c.resource.id: c.outcome for c in status.changes}
    resources = tuple(r.model_copy(update={"outcome": outcomes.get(r.id)}) for r in card.resources)
    # Campaign-wide counts (`totals`) when the workflow reports them: after continue-as-new `changes` holds only
    # the current run's targets.
    totals = status.totals or Counter(c.outcome.value for c in status.changes)
    progress = Progress(
        total=plan.target_count or len(plan.targets),
        changed=sum(totals.get(o.value, 0) for o in _CHANGED),
        verified=totals.get(Outcome.verified.value, 0),
        failed=totals.get(Outcome.failed.value, 0) + totals.get(Outcome.restore_failed.value, 0),
        restored=totals.get(Outcome.restored.value, 0),
        batch=status.batch,
        batches=status.batches_total,
    )
    return card.model_copy(update={"resources": resources, "progress": progress})


async def _query_status() -> CampaignStatus:
    """The calling workflow's status, by query (not recorded in its history); retried by Temporal if the query
    cannot be answered right now (e.g. the campaign is continuing as new)."""
    handle = activity.client().get_workflow_handle(_workflow_id())
    try:
        status: CampaignStatus = await handle.query("status", result_type=CampaignStatus)
    except Exception as err:  # RPC or query failures: transient from here, Temporal backs off and retries
        raise ApplicationError(f"reading the campaign's status failed: {redact(str(err))[:200]}") from None
    return status


def _workflow_id() -> str:
    """The idempotency scope of a publish: the campaign's workflow (stable across retries, workers and
    continue-as-new)."""
    return activity.info().workflow_id or ""


class PublishActivities:
    """One per worker: the Slack and Jira clients are created on first use and kept."""

    def __init__(self, context: WorkerContext) -> None:
        self.ctx = context
        self._slack: SlackCards | None = None
        self._jira: JiraTickets | None = None

    # --- clients ---

    def slack(self, config: SlackSettings) -> SlackCards:
        if self._slack is None:
            self._slack = SlackCards(
                config.bot_token,
                base_url=config.base_url,
                timeout=config.timeout,
                max_retries=config.max_retries,
            )
        return self._slack

    def jira(self, config: JiraSettings) -> JiraTickets:
        if self._jira is None:
            self._jira = JiraTickets(
                config.server,
                token=config.token,
                email_or_user=config.user,
                project=config.project,
                issue_type=config.issue_type,
                labels=config.labels,
                api_version=config.api_version,
                timeout=config.timeout,
            )
        return self._jira

    async def _guarded(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except MendflowError as err:
            raise classify(err, what) from None
        except ValueError as err:
            raise classify(err, what) from None

    # --- activities ---

    @activity.defn(name="publish_campaign")
    async def publish_campaign(self, request: PublishInput) -> PublishRefs:
        """Create or update the campaign's card and ticket; returns where they are."""
        settings = self.ctx.settings
        if settings.slack is None and settings.jira is None:
            return request.refs
        status = request.status or await _query_status()
        plan = status.plan
        if plan is None or plan.mode not in PUBLISHED_MODES:
            return request.refs
        request = request.model_copy(
            update={"status": status, "step": len(status.timeline) if request.step is None else request.step}
        )
        refs = request.refs
        failures: list[ApplicationError] = []
        if settings.jira is not None:
            try:
                refs = await self._publish_ticket(settings.jira, request, refs)
            except ApplicationError as err:
                failures.append(err)
        if settings.slack is not None:
            try:
                refs = await self._publish_card(settings.slack, request, refs)
            except ApplicationError as err:
                failures.append(err)
        if failures:
            for failure in failures:
                log.warning("publishing failed", campaign=status.campaign_id, error=failure.message)
            retryable = [f for f in failures if not f.non_retryable]
            message = "; ".join(f.message for f in failures)
            raise ApplicationError(message, type=(retryable or failures)[0].type, non_retryable=not retryable)
        return refs

    async def _publish_card(self, config: SlackSettings, request: PublishInput, refs: PublishRefs) -> PublishRefs:
        status = request.status
        assert status is not None and status.plan is not None
        link = config.campaign_url.format(campaign_id=status.campaign_id) if config.campaign_url else ""
        ticket = ""
        if refs.jira_key:
            ticket = self.ctx.settings.jira.browse_url(refs.jira_key) if self.ctx.settings.jira else refs.jira_key
        findings = self._findings(status)
        risk = summarize_risk(findings, total=status.plan.target_count or None)
        card = build_card(status, link=link, ticket=ticket, risk=risk)
        try:
            slack = self.slack(config)
        except MendflowError as err:
            raise classify(err, "Slack") from None
        if refs.slack_channel and refs.slack_ts:
            where = MessageRef(channel=refs.slack_channel, ts=refs.slack_ts)
            await self._guarded("Slack chat.update", lambda: slack.update(where, card))
        else:
            channel = config.channel_for(status.playbook_id)
            posted: list[MessageRef] = []

            async def post() -> MessageRef:
                posted.append(
                    await self._guarded(f"Slack chat.postMessage to {channel}", lambda: slack.post(channel, card))
                )
                return posted[0]

            where = await self.ctx.idempotency.once(_workflow_id(), "slack.card", MessageRef, post)
            if not posted:  # an earlier attempt posted it: bring it up to date instead of posting again
                await self._guarded("Slack chat.update", lambda: slack.update(where, card))
        return refs.model_copy(update={"slack_channel": where.channel, "slack_ts": where.ts})

    async def _publish_ticket(self, config: JiraSettings, request: PublishInput, refs: PublishRefs) -> PublishRefs:
        status = request.status
        assert status is not None and status.plan is not None
        campaign = status.campaign_id
        step = request.step
        try:
            jira = self.jira(config)
        except MendflowError as err:
            raise classify(err, "Jira") from None
        done = self.ctx.idempotency
        workflow = _workflow_id()
        created = False
        key = refs.jira_key
        if key is None:
            ticket = self._ticket_request(config, status)

            async def create() -> str:
                nonlocal created
                new = await self._guarded("Jira create issue", lambda: asyncio.to_thread(jira.create, ticket))
                created = True
                return new

            key = await done.once(workflow, "jira.create", str, create)
        issue = key
        first = created and request.event.startswith("planned")
        if request.event and not first:
            text = f"mendflow: {request.event}\nstate: {status.state}"

            async def comment() -> bool:
                await self._guarded(f"Jira comment on {issue}", lambda: asyncio.to_thread(jira.comment, issue, text))
                return True

            await done.once(workflow, f"jira.comment:{step}", bool, comment)
        transition = {"completed": config.done_transition, "rolled_back": config.reopened_transition}.get(status.state)
        if transition:
            move = transition

            async def take() -> bool:
                try:
                    await self._guarded(
                        f"Jira transition {issue}", lambda: asyncio.to_thread(jira.transition, issue, move)
                    )
                except ApplicationError as err:
                    if err.type != JiraTransitionError.__name__:
                        raise
                    # Already there (an earlier publish moved it), or the workflow has no such step from here.
                    log.info("jira transition skipped", campaign=campaign, issue=issue, reason=err.message)
                return True

            await done.once(workflow, f"jira.transition:{issue}:{move}", bool, take)
        return refs.model_copy(update={"jira_key": key})

    def _findings(self, status: CampaignStatus) -> list[Finding]:
        """The ledger's findings (with the risk the scan scored) for the plan's preview targets."""
        plan = status.plan
        assert plan is not None
        rows = (self.ctx.ledger.find(t.fingerprint, tenant=plan.tenant_key) for t in plan.targets)
        return [row.finding for row in rows if row is not None]

    def _ticket_request(self, config: JiraSettings, status: CampaignStatus) -> TicketRequest:
        plan = status.plan
        assert plan is not None
        policy = None
        playbook = self.ctx.playbooks.get(plan.playbook_id)
        if playbook is not None and playbook.respond is not None:
            policy = playbook.respond.ticket
        card = build_card(status)
        findings = self._findings(status)
        changes = tuple(
            Change(resource=t.resource, action=plan.action, before=dict(t.current), after=dict(t.intended))
            for t in plan.targets
        )
        return TicketRequest(
            campaign_id=plan.campaign_id,
            playbook_id=plan.playbook_id,
            title=plan.title,
            severity=plan.severity,
            tenant=plan.tenant_key,
            project=policy.project if policy else "",
            issue_type=policy.type if policy else "",
            labels=tuple(policy.labels) if policy else (),
            priority=policy.priority if policy else None,
            compliance=tuple(plan.compliance),
            risk=summarize_risk(findings, total=plan.target_count or None),
            findings=tuple(findings),
            changes=changes,
            plan=card.rollout.describe(),
            campaign_url=config.campaign_url.format(campaign_id=plan.campaign_id) if config.campaign_url else "",
        )

    @activity.defn(name="escalate_campaign")
    async def escalate_campaign(self, request: EscalationInput) -> None:
        """Tell the escalation contact that a campaign, or a response run's approve step, waits for a decision."""
        log.warning(
            "campaign escalated" if not request.step_id else "response approval escalated",
            campaign=request.campaign_id,
            playbook=request.playbook_id,
            step=request.step_id or None,
            escalate_to=request.escalate_to,
            waited_s=request.waited.total_seconds(),
        )
        config = self.ctx.settings.slack
        if config is None:
            return
        target = slack_target(config, self.ctx.settings.rbac.people, request.escalate_to, request.playbook_id)
        minutes = int(request.waited.total_seconds() // 60)
        run, where = request.campaign_id, f"on its card in {config.channel_for(request.playbook_id)} or "
        subject = f"Campaign {run} ({request.playbook_id})"
        if request.step_id:  # a response run has no card: the CLI (or the API) decides it
            subject, where = f"Response run {run} ({request.playbook_id}), step {request.step_id},", ""
        text = (
            f":rotating_light: {subject} has waited {minutes} min for a decision and was escalated to you. "
            f"Approve or reject it {where}with `mendflow approve {run}`."
        )
        try:
            slack = self.slack(config)
            await self._guarded(f"Slack escalation to {target}", lambda: slack.notify(target, text))
        except MendflowError as err:
            log.error("escalation could not be delivered", campaign=request.campaign_id, error=redact(str(err)))
        except ApplicationError as err:
            if not err.non_retryable:
                raise
            # A notification that can never be delivered must not fail the campaign: log it loudly instead.
            log.error("escalation could not be delivered", campaign=request.campaign_id, error=err.message)
