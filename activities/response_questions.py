"""The `ask_person` activity: a `wait … answer` step's question, sent to the person as a Slack DM card.

It also resolves who may answer in the person's place (the playbook's approvers, from the WORKER's RBAC config)
and the keys whose signatures count — so the run checks an answer against server-side facts only. Without Slack,
or without a Slack id for the person, nothing is sent and the run waits all the same (answer with the CLI/API).
"""

from __future__ import annotations

from mendflow.activities.publish import PublishActivities
from temporalio import activity

from mendflow.errors import MendflowError
from mendflow.integrations.question_card import question_blocks
from mendflow.integrations.slack import MessageRef, SlackCards
from mendflow.redaction import redact
from mendflow.responses.questions import AskInput, AskPlan
from mendflow.worker_context import WorkerContext


class QuestionActivities:
    def __init__(self, context: WorkerContext, publish: PublishActivities | None = None) -> None:
        self.ctx = context
        self._publish = publish or PublishActivities(context)

    @activity.defn(name="ask_person")
    async def ask_person(self, request: AskInput) -> AskPlan:
        """Who may answer besides the person, and the DM card with one button per option (sent once per step)."""
        settings = self.ctx.settings
        plan = AskPlan(
            operators=list(settings.rbac.approvers_for(request.playbook_id, request.severity)),
            trusted_keys=dict(settings.security.trusted_keys),
        )
        config = settings.slack
        person = settings.rbac.people.get(request.person)
        if config is None:
            return plan.model_copy(update={"detail": "Slack is not configured: answer with mendflow answer"})
        if person is None or not person.slack:
            detail = (
                f"no Slack id for {request.person} (rbac.people.{request.person}.slack): answer with mendflow answer"
            )
            return plan.model_copy(update={"detail": detail})
        slack = self._publish.slack(config)
        info = activity.info()
        blocks = question_blocks(
            text=request.text, options=request.options, run=request.workflow_id, question=request.question_id
        )
        try:
            await self.ctx.idempotency.once(
                info.workflow_id or "",
                f"slack.ask:{info.activity_id}",
                MessageRef,
                lambda: _direct_card(slack, person.slack or "", request.text, blocks),
            )
        except MendflowError as err:
            if getattr(err, "retryable", False):
                raise
            return plan.model_copy(update={"detail": f"the DM could not be sent: {redact(str(err))}"})
        return plan.model_copy(update={"delivered": True, "detail": f"asked {request.person} in a Slack DM"})


async def _direct_card(slack: SlackCards, user: str, text: str, blocks: list[dict[str, object]]) -> MessageRef:
    """`conversations.open` with the person, then the card in that DM (as Slack documents DMs)."""
    opened = await slack.call("conversations.open", lambda: slack.client.conversations_open(users=user))
    channel = opened.get("channel")
    channel_id = str(channel.get("id", "")) if isinstance(channel, dict) else user
    response = await slack.call(
        "chat.postMessage",
        lambda: slack.client.chat_postMessage(channel=channel_id, text=redact(text), blocks=blocks, unfurl_links=False),
    )
    return MessageRef(channel=str(response["channel"]), ts=str(response["ts"]))
