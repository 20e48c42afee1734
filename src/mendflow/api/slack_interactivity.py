"""Slack interactivity: a click on a card's Approve/Reject button becomes a `Decision` passed to `decide`.

Two transports feed the same `SlackInteractions` handler:

* HTTP (`POST /slack/interactivity`, see `slack_endpoint`): Slack signs the raw form body with the app's signing
  secret; we verify it with slack-sdk's `SignatureVerifier` (timestamps older than 5 minutes are refused), refuse
  a replay of the same signed request, validate the `payload` JSON, acknowledge with HTTP 200 at once (Slack
  gives us 3 seconds) and do the rest in a background task.
* Socket Mode (`integrations.slack_socket`): the WebSocket is authenticated by the app-level token, so there is
  no signature; each envelope is acknowledged, then its payload is handled here.

The background task maps the Slack user to a mendflow identity (config + Slack user groups), calls
`decide(campaign_id, Decision(...))` and tells the clicking user privately (ephemeral) if the decision was
refused — with the reason — or recorded. A button of a response run's question card (`mendflow_answer:…`) is an
answer instead: `answer(run, question, option, person)`, told and audited the same way. Every refusal,
wherever it happens, is written to the audit log with what and why; nothing else changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.signature import Clock, SignatureVerifier
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from mendflow.api.body import read_bounded
from mendflow.audit import AuditEvent, AuditLog
from mendflow.errors import MendflowError
from mendflow.integrations.cards import APPROVE_ACTION, REASON_ACTION, REASON_BLOCK, REJECT_ACTION
from mendflow.integrations.question_card import ANSWER_ACTION, answered_blocks, button_of
from mendflow.integrations.slack import SlackCards, SlackDirectory, SlackIdentity, respond_via_url
from mendflow.models import Channel, Decision, DecisionOutcome, Verdict
from mendflow.redaction import redact
from mendflow.telemetry import get_logger

Decide = Callable[[str, Decision], Awaitable[DecisionOutcome]]
AnswerQuestion = Callable[["AnswerClick", SlackIdentity], Awaitable[tuple[bool, str]]]
"""Send a click's answer (signed, as that person) to the run; (accepted, the run's words)."""
Respond = Callable[[str, str], Awaitable[None]]

SIGNATURE_WINDOW = 300
"""Slack's documented limit on the age of a signed request, in seconds."""
MAX_BODY = 1 << 20
"""Interaction payloads carry the whole source message; 1 MiB is far above any real one."""

log = get_logger(__name__)


# --- payload ------------------------------------------------------------------------------------------------


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PayloadUser(_Part):
    id: str = Field(min_length=1)
    username: str = ""
    name: str = ""
    team_id: str = ""


class PayloadContainer(_Part):
    type: str
    message_ts: str | None = None
    channel_id: str | None = None
    is_ephemeral: bool | None = None
    view_id: str | None = None


class PayloadChannel(_Part):
    id: str
    name: str = ""


class PayloadTeam(_Part):
    id: str
    domain: str = ""


class PayloadAction(_Part):
    type: str
    action_id: str
    block_id: str
    action_ts: str
    value: str | None = None


class PayloadInput(_Part):
    type: str = ""
    value: str | None = None


class PayloadState(_Part):
    values: dict[str, dict[str, PayloadInput]] = Field(default_factory=dict)


class BlockActionsPayload(_Part):
    """The fields of Slack's `block_actions` payload that mendflow reads (tests/specs/slack-block-actions-payload
    .schema.json describes the whole documented shape)."""

    type: Literal["block_actions"]
    user: PayloadUser
    api_app_id: str
    container: PayloadContainer
    trigger_id: str
    actions: list[PayloadAction] = Field(min_length=1)
    team: PayloadTeam | None = None
    channel: PayloadChannel | None = None
    response_url: str | None = None
    state: PayloadState | None = None


class PayloadError(ValueError):
    """A payload that is not what Slack documents; `path` names the offending field (`payload.actions[0].type`)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _path(loc: tuple[int | str, ...]) -> str:
    out = "payload"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_block_actions(data: Any) -> BlockActionsPayload:
    """Validate a decoded payload; raises `PayloadError` naming the first offending field."""
    try:
        return BlockActionsPayload.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise PayloadError(_path(tuple(first["loc"])), first["msg"]) from None


def parse_form(body: bytes) -> Any:
    """The JSON in the single `payload` form field, as Bolt reads it."""
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise PayloadError("body", "not UTF-8 form data") from None
    values = form.get("payload")
    if not values:
        raise PayloadError("payload", "missing form field `payload`")
    try:
        return json.loads(values[0])
    except ValueError:
        raise PayloadError("payload", "not valid JSON") from None


class Click(BaseModel):
    """A mendflow button press, extracted from a payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaign_id: str
    verdict: Verdict
    slack_user: str
    reason: str = ""
    channel_id: str = ""
    response_url: str = ""
    team_id: str = ""
    action_ts: str = ""


class AnswerClick(BaseModel):
    """A press of an answer button on a response run's question card."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str
    question: str
    option: str
    slack_user: str
    channel_id: str = ""
    message_ts: str = ""
    """The card's own message: once answered, its buttons are replaced by the answer."""
    response_url: str = ""
    action_ts: str = ""


def answer_click_of(payload: BlockActionsPayload) -> AnswerClick | None:
    """The answer button pressed in the payload, or None; PayloadError if it claims to be one and is not."""
    for index, action in enumerate(payload.actions):
        if not action.action_id.startswith(ANSWER_ACTION + ":"):
            continue
        try:
            button = button_of(action.value or "")
        except ValueError:
            why = "an answer button must carry run, question and option"
            raise PayloadError(f"payload.actions[{index}].value", why) from None
        return AnswerClick(
            run=button.run,
            question=button.question,
            option=button.option,
            slack_user=payload.user.id,
            channel_id=(payload.channel.id if payload.channel else "") or payload.container.channel_id or "",
            message_ts=payload.container.message_ts or "",
            response_url=payload.response_url or "",
            action_ts=action.action_ts,
        )
    return None


def click_of(payload: BlockActionsPayload) -> Click | None:
    """The mendflow click in the payload, or None if the payload is about some other element."""
    for index, action in enumerate(payload.actions):
        if action.action_id not in (APPROVE_ACTION, REJECT_ACTION):
            continue
        if not action.value:
            raise PayloadError(f"payload.actions[{index}].value", "a mendflow button must carry the campaign id")
        reason = ""
        if payload.state is not None:
            entry = payload.state.values.get(REASON_BLOCK, {}).get(REASON_ACTION)
            reason = (entry.value or "").strip() if entry else ""
        return Click(
            campaign_id=action.value,
            verdict=Verdict.approve if action.action_id == APPROVE_ACTION else Verdict.reject,
            slack_user=payload.user.id,
            reason=reason,
            channel_id=(payload.channel.id if payload.channel else "") or payload.container.channel_id or "",
            response_url=payload.response_url or "",
            team_id=(payload.team.id if payload.team else "") or payload.user.team_id,
            action_ts=action.action_ts,
        )
    return None


# --- the handler both transports share ---------------------------------------------------------------------


class SlackInteractions:
    """Turns validated clicks into decisions; refusals are audited and told to the clicking user."""

    def __init__(
        self,
        *,
        decide: Decide,
        directory: SlackDirectory | None,
        audit: AuditLog,
        cards: SlackCards | None = None,
        respond: Respond = respond_via_url,
        confirm_accepted: bool = True,
        answer: AnswerQuestion | None = None,
    ) -> None:
        self.decide = decide
        self.answer = answer
        self.directory = directory
        self.audit = audit
        self.cards = cards
        self.respond = respond
        self.confirm_accepted = confirm_accepted
        self._tasks: set[asyncio.Task[Any]] = set()

    def record(self, event: AuditEvent) -> None:
        try:
            self.audit.append(event)
        except (OSError, MendflowError) as err:  # the audit sink failing must be loud, but must not crash the loop
            log.error("audit log write failed", where=self.audit.where, error=redact(str(err)))

    def refuse_request(self, transport: str, reason: str, **details: Any) -> None:
        """Audit a request refused before any click was read (signature, replay, malformed payload)."""
        self.record(
            AuditEvent(
                kind="slack.request",
                outcome="refused",
                reason=reason,
                channel=Channel.slack.value,
                details={"transport": transport, **details},
            )
        )

    def accept(self, data: Any, *, transport: str) -> BlockActionsPayload | None:
        """Validate a decoded payload and handle it in the background; raises PayloadError if malformed.

        Payloads of other interaction types (shortcuts, view submissions) are acknowledged and ignored.
        """
        if isinstance(data, dict) and data.get("type") not in (None, "block_actions"):
            self.record(
                AuditEvent(
                    kind="slack.request",
                    outcome="ignored",
                    reason=f"interaction type {str(data.get('type'))[:40]!r} is not handled",
                    channel=Channel.slack.value,
                    details={"transport": transport},
                )
            )
            return None
        payload = parse_block_actions(data)
        click = click_of(payload)
        if click is None:
            answered = answer_click_of(payload)
            if answered is not None and self.answer is not None:
                pending = asyncio.get_running_loop().create_task(self.process_answer(answered, transport=transport))
                self._tasks.add(pending)
                pending.add_done_callback(self._tasks.discard)
            return payload
        task = asyncio.get_running_loop().create_task(self.process(click, payload, transport=transport))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return payload

    async def drain(self) -> None:
        """Wait for every click being handled (tests; graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _event(
        self, click: Click, outcome: str, reason: str, transport: str, actor: str = "", **extra: Any
    ) -> AuditEvent:
        return AuditEvent(
            kind="slack.decision",
            outcome=outcome,
            reason=reason,
            channel=Channel.slack.value,
            actor=actor,
            channel_user=click.slack_user,
            campaign_id=click.campaign_id,
            details={
                "verdict": click.verdict.value,
                "transport": transport,
                "action_ts": click.action_ts,
                "auth": "slack",
            }
            | ({"team": click.team_id} if click.team_id else {})
            | extra,
        )

    async def process(self, click: Click, payload: BlockActionsPayload, *, transport: str) -> DecisionOutcome | None:
        """Resolve the person, decide, audit, and tell them privately; never raises."""
        verb = "approval" if click.verdict is Verdict.approve else "rejection"
        try:
            if click.verdict is Verdict.reject and not click.reason:
                why = "a rejection needs a reason"
                self.record(self._event(click, "refused", why, transport))
                await self._tell(
                    click, "A rejection needs a reason: type it in the Reason box on the card, then press Reject again."
                )
                return None
            who = await self.directory.resolve(click.slack_user) if self.directory is not None else None
            if who is None:
                why = f"unknown Slack user {click.slack_user}: not mapped to a mendflow identity"
                self.record(self._event(click, "refused", why, transport))
                await self._tell(
                    click,
                    f"Your {verb} was not recorded: mendflow does not know Slack user {click.slack_user}. "
                    "Ask a mendflow admin to map your Slack id to your identity (rbac.people.<you>.slack).",
                )
                return None
            decision = Decision(
                approver=who.identity,
                groups=who.groups,
                verdict=click.verdict,
                channel=Channel.slack,
                reason=redact(click.reason),  # a secret pasted into the Reason box never reaches history
                channel_user=click.slack_user,
            )
            outcome = await self.decide(click.campaign_id, decision)
        except Exception as err:  # the decision could not be made: audit and tell, never crash the loop
            text = redact(str(err)) if isinstance(err, MendflowError) else type(err).__name__
            log.warning("slack click failed", campaign=click.campaign_id, error=text)
            self.record(self._event(click, "error", f"could not record the decision: {text}", transport))
            await self._tell(click, f"Your {verb} of {click.campaign_id} could not be recorded ({text}); try again.")
            return None
        verdict = "accepted" if outcome.accepted else "refused"
        self.record(
            self._event(
                click, verdict, outcome.message, transport, who.identity, groups=list(who.groups), state=outcome.state
            )
        )
        if outcome.accepted:
            if self.confirm_accepted:
                await self._tell(click, f"Your {verb} of {click.campaign_id} was recorded. {outcome.message}".strip())
        else:
            await self._tell(click, f"Your {verb} of {click.campaign_id} was refused: {outcome.message}")
        return outcome

    async def process_answer(self, click: AnswerClick, *, transport: str) -> bool:
        """Resolve the person, send the answer, audit, and tell them privately; never raises."""
        assert self.answer is not None

        def audit(outcome: str, reason: str, actor: str = "") -> None:
            details = {"question": click.question, "option": click.option, "transport": transport, "auth": "slack"}
            self.record(
                AuditEvent(
                    kind="slack.answer", outcome=outcome, reason=reason, channel=Channel.slack.value, actor=actor,
                    channel_user=click.slack_user, campaign_id=click.run,
                    details=details | {"action_ts": click.action_ts},
                )
            )  # fmt: skip

        tell = Click(
            campaign_id=click.run, verdict=Verdict.approve, slack_user=click.slack_user, channel_id=click.channel_id,
            response_url=click.response_url,
        )  # fmt: skip
        try:
            who = await self.directory.resolve(click.slack_user) if self.directory is not None else None
            if who is None:
                audit("refused", f"unknown Slack user {click.slack_user}: not mapped to a mendflow identity")
                await self._tell(
                    tell, f"Your answer was not recorded: mendflow does not know Slack user {click.slack_user}."
                )
                return False
            accepted, message = await self.answer(click, who)
        except Exception as err:  # the answer could not be sent: audit and tell, never crash the loop
            text = redact(str(err)) if isinstance(err, MendflowError) else type(err).__name__
            audit("error", f"could not record the answer: {text}")
            await self._tell(tell, f"Your answer could not be recorded ({text}); try again.")
            return False
        audit("accepted" if accepted else "refused", message, who.identity)
        if accepted:
            await self._answered(click, who.identity)
        verdict = "recorded" if accepted else f"refused: {message}"
        await self._tell(tell, f"Your answer {click.option!r} to {click.question} was {verdict}")
        return accepted

    async def _answered(self, click: AnswerClick, person: str) -> None:
        """The question card, its buttons replaced by the answer (so nobody presses one again); best effort."""
        cards = self.cards
        if cards is None or not click.channel_id or not click.message_ts:
            return
        blocks = answered_blocks(option=click.option, person=person, run=click.run, question=click.question)
        try:
            await cards.call(
                "chat.update",
                lambda: cards.client.chat_update(
                    channel=click.channel_id, ts=click.message_ts, text=blocks[0]["text"]["text"], blocks=blocks
                ),
            )
        except MendflowError as err:
            log.warning("could not mark the question card answered", error=redact(str(err)))

    async def _tell(self, click: Click, text: str) -> None:
        """An ephemeral message to the clicking user: chat.postEphemeral if we can, else the response_url."""
        if self.cards is not None and click.channel_id:
            try:
                await self.cards.ephemeral(click.channel_id, click.slack_user, text)
                return
            except MendflowError as err:
                log.warning("chat.postEphemeral failed; trying response_url", error=redact(str(err)))
        if click.response_url:
            try:
                await self.respond(click.response_url, text)
            except MendflowError as err:
                log.warning("could not tell the Slack user", user=click.slack_user, error=redact(str(err)))


# --- HTTP: signature, replay, ack --------------------------------------------------------------------------


class _Clock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now())


class ReplayCache(Protocol):
    """Signed requests already received. In production `mendflow.store.StoredReplayCache` (in the shared
    database: a replay is refused after an API restart and by every replica)."""

    def first_time(self, key: str, expires_at: float) -> bool:
        """True (and remembered until `expires_at`) the first time `key` is seen; False for a replay."""
        ...


class MemoryReplayCache:
    """This process only, bounded: for tests and a single API process without a database."""

    def __init__(self, *, clock: Callable[[], float] = time.time, capacity: int = 100_000) -> None:
        self.clock = clock
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str, expires_at: float) -> bool:
        now = self.clock()
        while self._seen and (next(iter(self._seen.values())) < now or len(self._seen) >= self.capacity):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = expires_at
        return True


class RequestVerifier:
    """Slack's request signing (v0 HMAC over `v0:timestamp:raw body`) plus replay refusal within the window."""

    def __init__(
        self,
        signing_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        capacity: int = 100_000,
        seen: ReplayCache | None = None,
    ) -> None:
        self.clock = clock
        self.verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))
        self.seen: ReplayCache = seen if seen is not None else MemoryReplayCache(clock=clock, capacity=capacity)

    def check(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """None if the request is authentic and new; otherwise why it is refused."""
        signature = headers.get("x-slack-signature")
        timestamp = headers.get("x-slack-request-timestamp")
        if not signature or not timestamp:
            return "missing X-Slack-Signature or X-Slack-Request-Timestamp header"
        if not signature.isascii():  # hmac.compare_digest raises on non-ASCII text
            return "malformed X-Slack-Signature"
        try:
            sent = int(timestamp)
        except ValueError:
            return "malformed X-Slack-Request-Timestamp"
        now = self.clock()
        if abs(now - sent) > SIGNATURE_WINDOW:
            return f"stale timestamp: {int(now - sent)} s old (limit ±{SIGNATURE_WINDOW} s)"
        if not self.verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            return "signature does not match the body"
        key = hashlib.sha256(signature.encode() + b"\x00" + body).hexdigest()
        if not self.seen.first_time(key, sent + SIGNATURE_WINDOW):
            return "replayed request: the same signed body was already received"
        return None


async def _bounded_body(request: Request) -> bytes | None:
    """The body, read no further than MAX_BODY (None past it); a client that hangs up mid-body gives b""."""
    try:
        return await read_bounded(request, MAX_BODY)
    except ClientDisconnect:
        return b""


def slack_endpoint(
    interactions: SlackInteractions, verifier: RequestVerifier
) -> Callable[[Request], Awaitable[Response]]:
    """The `POST /slack/interactivity` endpoint: verify, validate, ack at once, decide in the background."""

    def refused(status: int, reason: str, **details: Any) -> Response:
        """One audit record and one log line per refused request, never the body."""
        interactions.refuse_request("http", reason, **details)
        log.warning("slack request refused", status=status, reason=reason)
        return PlainTextResponse(f"refused: {reason}", status_code=status)

    async def endpoint(request: Request) -> Response:
        body = await _bounded_body(request)
        if body is None:
            return refused(413, f"body exceeds {MAX_BODY} bytes")
        if not body:
            return refused(400, "empty or truncated body")
        try:
            body.decode("utf-8")  # slack-sdk's signature check decodes the body and would raise on other bytes
        except UnicodeDecodeError as err:
            return refused(400, f"body is not UTF-8 (invalid byte at offset {err.start})")
        problem = await asyncio.to_thread(verifier.check, body, request.headers)  # the replay cache may be a database
        if problem is not None:
            return refused(401, problem, client=request.client.host if request.client else "")
        try:
            interactions.accept(parse_form(body), transport="http")
        except PayloadError as err:
            interactions.refuse_request("http", f"malformed payload: {err}", field=err.path)
            log.warning("slack request refused", status=400, reason="malformed payload", field=err.path)
            return JSONResponse({"error": "malformed payload", "field": err.path, "problem": err.problem}, 400)
        return Response(status_code=200)

    return endpoint


__all__ = [
    "SIGNATURE_WINDOW",
    "AnswerClick",
    "AnswerQuestion",
    "BlockActionsPayload",
    "Click",
    "Decide",
    "MemoryReplayCache",
    "PayloadError",
    "ReplayCache",
    "RequestVerifier",
    "SlackInteractions",
    "click_of",
    "parse_block_actions",
    "parse_form",
    "slack_endpoint",
]
