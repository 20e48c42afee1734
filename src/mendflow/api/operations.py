"""Operator actions on campaigns and findings, as the API performs them: sign, send, wait for the answer, audit.

Every channel (the operator API used by the CLI, Slack clicks) ends here with an `Actor` whose identity and
groups the API resolved from SERVER-side config. The request is signed (`mendflow.auth.signing`) and sent as a
Temporal update; the workflow's validator verifies the proof and applies RBAC, so what the caller is told is
exactly what the workflow accepted or refused. Free text is redacted before it is signed, sent or audited.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from mendflow.audit import AuditEvent, AuditLog
from mendflow.auth.signing import DecisionSigner
from mendflow.errors import ConnectionProblem, InputError
from mendflow.models import AuthMethod, Channel, Decision, DecisionOutcome, Proof, Verdict
from mendflow.redaction import redact
from mendflow.responses.messages import ResponseStatus
from mendflow.responses.questions import ANSWER_VERB, AnswerRequest, signed_choice
from mendflow.runtime.client import TASK_QUEUE, TemporalSettings, connect
from mendflow.runtime.responses import RUN_PREFIX
from mendflow.telemetry import get_logger
from mendflow.workflow_types import CampaignStatus, OperatorRequest, SuppressionInput, SuppressionOutcome

CONTROLS = ("pause", "resume", "abort", "rollback")
S = TypeVar("S", CampaignStatus, ResponseStatus)
log = get_logger(__name__)


@dataclass(frozen=True)
class Actor:
    """The person behind a request, as the API resolved them."""

    person: str
    groups: tuple[str, ...]
    """From server-side config (RBAC people, Slack user groups), never from the request."""
    auth: AuthMethod
    channel: Channel
    channel_user: str = ""
    credential: str = ""
    """Which token / JWT subject / Slack user was used (for the audit trail)."""


class Answer(BaseModel):
    """What the workflow said: accepted (and what happens next) or refused (and why)."""

    model_config = ConfigDict(frozen=True)

    accepted: bool
    message: str
    state: str = ""
    workflow_id: str = ""


RUNNING_QUERIES = 16
"""Status queries `Operations.running` has in flight at once (each one is a workflow task on some worker)."""


def _refusal(err: WorkflowUpdateFailedError) -> str:
    cause = err.cause
    return redact(getattr(cause, "message", "") or str(cause or err))


class Operations:
    """Signed requests to workflows, each answered and audited."""

    def __init__(
        self,
        client: Client | TemporalSettings,
        signer: DecisionSigner,
        audit: AuditLog | None,
        *,
        task_queue: str = TASK_QUEUE,
    ) -> None:
        """`client` may be settings: the client is then connected on first use, in the loop serving requests
        (an API served on another thread's event loop cannot share the caller's client)."""
        self._client = client if isinstance(client, Client) else None
        self._settings = client if isinstance(client, TemporalSettings) else None
        self._lock: asyncio.Lock | None = None
        self.signer = signer
        self.audit = audit
        self.task_queue = task_queue

    async def client(self) -> Client:
        if self._client is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._client is None:
                    assert self._settings is not None
                    self._client = await connect(self._settings)
        return self._client

    # --- audit ---

    def record(self, kind: str, actor: Actor | None, answer: Answer, *, target: str = "", **details: Any) -> None:
        """One audit line per request, accepted or refused (an unwritable audit log is logged, never fatal)."""
        if self.audit is None:
            return
        event = AuditEvent(
            kind=kind,
            outcome="accepted" if answer.accepted else "refused",
            reason=answer.message,
            channel=actor.channel.value if actor else "",
            actor=actor.person if actor else "",
            channel_user=actor.channel_user if actor else "",
            campaign_id=target,
            details={"auth": actor.auth.value if actor else "", "credential": actor.credential if actor else ""}
            | details,
        )
        try:
            self.audit.append(event)
        except OSError as err:
            log.error("audit log write failed", where=self.audit.where, error=err.strerror)

    # --- campaigns ---

    async def _update(self, workflow_id: str, verb: str, arg: object, result_type: type) -> object:
        handle = (await self.client()).get_workflow_handle(workflow_id)
        try:
            return await handle.execute_update(verb, arg, result_type=result_type)
        except WorkflowUpdateFailedError as err:
            return Answer(accepted=False, message=_refusal(err), workflow_id=workflow_id)
        except RPCError as err:
            if err.status == RPCStatusCode.INVALID_ARGUMENT:
                raise InputError(f"{verb}: Temporal refused the request as invalid: {redact(err.message)}") from None
            if err.status == RPCStatusCode.NOT_FOUND:
                gone = (
                    f"run {workflow_id} is not running (ended and past its rollback window, or never existed)"
                    if workflow_id.startswith(RUN_PREFIX)
                    else f"campaign {workflow_id} is not running (finished, or never existed)"
                )
                return Answer(accepted=False, message=gone, workflow_id=workflow_id)
            raise ConnectionProblem(f"Temporal refused {verb} on {workflow_id}: {redact(err.message)}") from None

    def _sign(self, actor: Actor, workflow_id: str, verb: str, reason: str, *, verdict: str = "") -> Proof:
        """The proof of one request by `actor`: every channel's identity goes into it the same way."""
        return self.signer.sign(
            workflow_id=workflow_id,
            verb=verb,
            verdict=verdict,
            actor=actor.person,
            groups=actor.groups,
            auth=actor.auth,
            channel=actor.channel,
            channel_user=actor.channel_user,
            reason=reason,
        )

    async def decide(
        self, actor: Actor, campaign_id: str, verdict: Verdict, reason: str, *, audit: bool = True
    ) -> DecisionOutcome:
        """Approve or reject; the answer is the workflow's (`accepted=False` with the validator's reason)."""
        reason = redact(reason)
        proof = self._sign(actor, campaign_id, "decide", reason, verdict=verdict.value)
        decision = Decision(
            approver=actor.person,
            groups=actor.groups,
            verdict=verdict,
            channel=actor.channel,
            reason=reason,
            channel_user=actor.channel_user,
            proof=proof,
        )
        result = await self._update(campaign_id, "decide", decision, DecisionOutcome)
        outcome = (
            result
            if isinstance(result, DecisionOutcome)
            else DecisionOutcome(accepted=False, message=result.message if isinstance(result, Answer) else "")
        )
        if audit:
            answer = Answer(accepted=outcome.accepted, message=outcome.message, state=outcome.state)
            self.record("decision", actor, answer, target=campaign_id, verdict=verdict.value, reason_given=reason)
        return outcome

    async def answer(self, actor: Actor, workflow_id: str, question: str, option: str, *, audit: bool = True) -> Answer:
        """A person's answer to a question a response run (or a for_each page of one) waits on; the proof binds
        the run, the question and the option, and the run decides whether this person may answer."""
        proof = self._sign(actor, workflow_id, ANSWER_VERB, "", verdict=signed_choice(question, option))
        request = AnswerRequest(
            question_id=question,
            option=option,
            person=actor.person,
            groups=actor.groups,
            channel=actor.channel,
            channel_user=actor.channel_user,
            proof=proof,
        )
        result = await self._update(workflow_id, "answer", request, str)
        answer = result if isinstance(result, Answer) else Answer(accepted=True, message=str(result))
        answer = answer.model_copy(update={"workflow_id": workflow_id})
        if audit:
            self.record("answer", actor, answer, target=workflow_id, question=question, option=option)
        return answer

    async def control(self, actor: Actor, campaign_id: str, verb: str, reason: str) -> Answer:
        """`pause`, `resume`, `abort` or `rollback` a campaign."""
        if verb not in CONTROLS:
            raise InputError(f"unknown control {verb!r} (one of {', '.join(CONTROLS)})")
        reason = redact(reason)
        proof = self._sign(actor, campaign_id, verb, reason)
        request = OperatorRequest(
            operator=actor.person, groups=actor.groups, channel=actor.channel, reason=reason, proof=proof
        )
        result = await self._update(campaign_id, verb, request, str)
        answer = result if isinstance(result, Answer) else Answer(accepted=True, message=str(result))
        answer = answer.model_copy(update={"workflow_id": campaign_id})
        self.record("control", actor, answer, target=campaign_id, verb=verb, reason_given=reason)
        return answer

    async def status(self, campaign_id: str) -> CampaignStatus:
        return await self._status(campaign_id, CampaignStatus, "campaign")

    async def response_status(self, run_id: str) -> ResponseStatus:
        """A response run's step timeline and what a rollback would restore (finished runs answer too)."""
        return await self._status(run_id, ResponseStatus, "response run")

    async def _status(self, workflow_id: str, result_type: type[S], what: str) -> S:
        """The workflow's `status` query: an unknown id is the caller's mistake (InputError), anything else is
        Temporal's (ConnectionProblem)."""
        try:
            handle = (await self.client()).get_workflow_handle(workflow_id)
            result: S = await handle.query("status", result_type=result_type)
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise InputError(f"no {what} {workflow_id!r}") from None
            raise ConnectionProblem(f"Temporal could not answer for {workflow_id}: {redact(err.message)}") from None
        return result

    async def running(self) -> list[CampaignStatus]:
        """Every running campaign's status, sorted by id. The queries go out together (at most `RUNNING_QUERIES`
        at once): each waits on a worker's answer, so asking one after another made the list as slow as the sum."""
        client = await self.client()
        ids = [
            execution.id
            async for execution in client.list_workflows(
                "WorkflowType = 'RemediationWorkflow' AND ExecutionStatus = 'Running'"
            )
        ]
        gate = asyncio.Semaphore(RUNNING_QUERIES)

        async def one(campaign_id: str) -> CampaignStatus:
            async with gate:
                return await self.status(campaign_id)

        out = await asyncio.gather(*(one(campaign_id) for campaign_id in ids))
        return sorted(out, key=lambda s: s.campaign_id)

    # --- findings ---

    async def suppress(self, actor: Actor, fingerprint: str, reason: str, expires_at: datetime) -> Answer:
        """Start the durable suppression and wait for the worker's verdict (unknown finding, person not allowed)."""
        reason = redact(reason)
        if not reason.strip():
            raise InputError("a suppression needs a reason (--reason)")
        workflow_id = f"suppress/{fingerprint}/{int(expires_at.timestamp())}"
        proof = self._sign(actor, workflow_id, "suppress", reason)
        request = SuppressionInput(
            fingerprint=fingerprint,
            reason=reason,
            requested_by=actor.person,
            groups=actor.groups,
            expires_at=expires_at,
            proof=proof,
        )
        try:
            handle = await (await self.client()).start_workflow(
                "SuppressionWorkflow", request, id=workflow_id, task_queue=self.task_queue
            )
            outcome: SuppressionOutcome = await handle.execute_update("outcome", result_type=SuppressionOutcome)
            answer = Answer(accepted=outcome.accepted, message=outcome.message, workflow_id=workflow_id)
        except WorkflowAlreadyStartedError:
            answer = Answer(
                accepted=False, message="this finding is already suppressed until that time", workflow_id=workflow_id
            )
        except RPCError as err:
            raise ConnectionProblem(f"Temporal refused the suppression: {redact(err.message)}") from None
        self.record("suppression", actor, answer, target=workflow_id, fingerprint=fingerprint, reason_given=reason)
        return answer


__all__ = ["CONTROLS", "Actor", "Answer", "Operations"]
