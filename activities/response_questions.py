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
from mendflow.integrations.slack import MessageRef
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
        user = person.slack
        try:
            await self.ctx.idempotency.once(
                info.workflow_id or "",
                f"slack.ask:{info.activity_id}",
                MessageRef,
                lambda: slack.direct_message(user, request.text, blocks=blocks),
            )
        except MendflowError as err:
            if _worth_retrying(err):
                raise
            return plan.model_copy(update={"detail": f"the DM could not be sent: {redact(str(err))}"})
        return plan.model_copy(update={"delivered": True, "detail": f"asked {request.person} in a Slack DM"})


def _worth_retrying(err: MendflowError) -> bool:
    """Only what Slack itself marks retryable (5xx, rate limits) is tried again. Unlike a notify step's message,
    a question's card is not retried when Slack cannot be reached: the run waits for the answer either way, and
    the person or an operator can answer with `mendflow answer` — retrying would only hold the step back."""
    return bool(getattr(err, "retryable", False))
