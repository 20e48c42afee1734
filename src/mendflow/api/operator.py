"""The operator API: status, approve/reject, pause/resume/abort/rollback, suppress, each answered by the workflow.

    Authorization: Bearer <personal token | OIDC JWT>  ─>  Principal (person, role)   401/403, audited
    role allows the verb?                              ─>  403, audited
    body: UTF-8 JSON object, ≤ 64 KiB, pydantic model  ─>  400 (one log line), never 500
    Operations: groups from server config, signed, sent as an update  ─>  200 accepted | 409 refused (why)

Repeated authentication failures from one client get 429 with `Retry-After` before any credential is checked.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mendflow.api.body import read_bounded
from mendflow.api.operations import Actor, Answer, Operations
from mendflow.auth.identity import Authenticator, FailureThrottle, Principal
from mendflow.auth.tokens import Role
from mendflow.errors import ConnectionProblem, InputError, Unauthenticated
from mendflow.findings.false_positives import mark_false_positive
from mendflow.findings.store import FindingsLedger
from mendflow.findings.view import list_findings, parse_filter
from mendflow.models import Channel, Verdict
from mendflow.rbac import RbacConfig
from mendflow.redaction import redact
from mendflow.telemetry import get_logger

MAX_BODY = 64 * 1024
"""An operator request is a reason and a date; anything bigger is refused unread."""

log = get_logger(__name__)


class VerbBody(BaseModel):
    """Body of approve, reject, pause, resume, abort, rollback."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)
    """Why; redacted before it reaches Temporal, logs or the audit log."""


class SuppressBody(BaseModel):
    """Body of suppress."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    expires_at: datetime
    """When the acceptance ends (ISO 8601 with a time zone); a durable timer re-opens the finding then."""


class FalsePositiveBody(BaseModel):
    """Body of false-positive: mark (or, with `false_positive: false`, unmark) a finding."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    """Why it is (or is no longer) a false positive; redacted, kept in the finding's history and the audit log."""
    false_positive: bool = True
    tenant: str | None = Field(default=None, max_length=200)
    """Tenant key, when the same fingerprint exists in several tenants (otherwise every match is marked)."""


class AnswerBody(BaseModel):
    """Every verb's response: the workflow's answer."""

    accepted: bool
    message: str
    """What happens next, or the validator's reason for refusing."""
    state: str = ""
    workflow_id: str = ""


class ErrorBody(BaseModel):
    """Any 4xx/5xx: what was wrong."""

    error: str


class AnswerQuestionBody(BaseModel):
    """Body of answer: which question of the run (or for_each page) and the option chosen."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=200)
    """The question's id: the wait step's, or `STEP#INDEX` inside a for_each (see the run's `questions`)."""
    option: str = Field(min_length=1, max_length=30)


NEEDS: dict[str, Role] = {
    "status": Role.viewer,
    "answer": Role.viewer,
    "findings": Role.viewer,
    "approve": Role.approver,
    "reject": Role.approver,
    "pause": Role.operator,
    "resume": Role.operator,
    "abort": Role.operator,
    "rollback": Role.operator,
    "suppress": Role.operator,
    "false_positive": Role.operator,
    "decode": Role.viewer,
    "encode": Role.operator,
}
"""The least role each verb needs (roles include the ones below them). RBAC then decides per campaign."""


def _error(status: int, message: str, **headers: str) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _body(request: Request, model: type[BaseModel]) -> Any:
    """The request body as `model`, or InputError (non-UTF-8, not JSON, too large, wrong shape)."""
    raw = await read_bounded(request, MAX_BODY)
    if raw is None:
        raise InputError(f"body larger than {MAX_BODY} bytes")
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except UnicodeDecodeError:
        raise InputError("body is not UTF-8") from None
    except ValueError:
        raise InputError("body is not JSON") from None
    if not isinstance(data, dict):
        raise InputError("body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InputError(f"{where}: {first['msg']}") from None


Handler = Callable[[Request, Principal], Awaitable[Response]]


class OperatorApi:
    """Routes of the operator API over `Operations`, with authentication, roles and throttling."""

    def __init__(
        self,
        ops: Operations,
        auth: Authenticator,
        rbac: RbacConfig,
        *,
        throttle: FailureThrottle | None = None,
        ledger: FindingsLedger | None = None,
    ) -> None:
        """`ledger`: the shared findings ledger `GET /v1/findings` reads (None: that endpoint answers 503)."""
        self.ops = ops
        self.ledger = ledger
        self.auth = auth
        self.rbac = rbac
        self.throttle = throttle or FailureThrottle()

    def actor(self, principal: Principal) -> Actor:
        return Actor(
            person=principal.person,
            groups=self.rbac.groups_of(principal.person),
            auth=principal.auth,
            channel=Channel.api,
            credential=principal.credential,
        )

    def guarded(self, verb: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Authenticate, check the role, run; every refusal audited; input errors 400; never a 500."""
        needed = NEEDS[verb]

        async def endpoint(request: Request) -> Response:
            client = _client(request)
            wait = self.throttle.retry_after(client)
            if wait:
                return _error(429, "too many failed authentications; slow down", **{"Retry-After": str(int(wait))})
            params = request.path_params
            target = str(params.get("campaign_id") or params.get("run_id") or params.get("fingerprint") or "")
            try:
                principal = await self.auth.authenticate(request.headers.get("authorization"))
            except Unauthenticated as err:
                self.throttle.failed(client)
                log.warning("authentication refused", client=client, verb=verb, reason=str(err))
                self.ops.record("auth", None, Answer(accepted=False, message=str(err)), target=target, verb=verb,
                                client=client)  # fmt: skip
                return _error(err.status, str(err))
            if not principal.role.allows(needed):
                why = f"{principal.person} has role {principal.role.value}; {verb} needs {needed.value}"
                self.ops.record("auth", self.actor(principal), Answer(accepted=False, message=why), target=target,
                                verb=verb)  # fmt: skip
                return _error(403, why)
            try:
                return await handler(request, principal)
            except InputError as err:
                log.info("bad request", client=client, verb=verb, problem=redact(str(err)))
                return _error(400, redact(str(err)))
            except ConnectionProblem as err:
                log.error("request failed", verb=verb, problem=redact(str(err)))
                return _error(503, redact(str(err)))

        return endpoint

    # --- handlers ---

    async def _status(self, request: Request, principal: Principal) -> Response:
        campaign = request.path_params.get("campaign_id")
        if campaign:
            try:
                status = await self.ops.status(campaign)
            except InputError as err:
                return _error(404, str(err))
            return JSONResponse(status.model_dump(mode="json"))
        return JSONResponse([s.model_dump(mode="json") for s in await self.ops.running()])

    async def _response(self, request: Request, principal: Principal) -> Response:
        try:
            status = await self.ops.response_status(request.path_params["run_id"])
        except InputError as err:
            return _error(404, str(err))
        return JSONResponse(status.model_dump(mode="json"))

    async def _answer(self, request: Request, principal: Principal) -> Response:
        body: AnswerQuestionBody = await _body(request, AnswerQuestionBody)
        run = request.path_params["run_id"]
        answer = await self.ops.answer(self.actor(principal), run, body.question, body.option)
        return JSONResponse(answer.model_dump(), status_code=200 if answer.accepted else 409)

    async def _whoami(self, request: Request, principal: Principal) -> Response:
        return JSONResponse(
            {
                "person": principal.person,
                "role": principal.role.value,
                "auth": principal.auth.value,
                "groups": list(self.rbac.groups_of(principal.person)),
            }
        )

    async def _findings(self, request: Request, principal: Principal) -> Response:
        wanted = parse_filter(dict(request.query_params), name=lambda field: field)
        if self.ledger is None:
            return _error(503, "this API has no findings ledger")
        return JSONResponse(list_findings(self.ledger, wanted).model_dump(mode="json"))

    def _verb(self, verb: str) -> Handler:
        async def handler(request: Request, principal: Principal) -> Response:
            body: VerbBody = await _body(request, VerbBody)
            campaign = request.path_params["campaign_id"]
            actor = self.actor(principal)
            if verb in ("approve", "reject"):
                if verb == "reject" and not body.reason.strip():
                    raise InputError("a rejection needs a reason")
                verdict = Verdict.approve if verb == "approve" else Verdict.reject
                outcome = await self.ops.decide(actor, campaign, verdict, body.reason)
                answer = Answer(accepted=outcome.accepted, message=outcome.message, state=outcome.state,
                                workflow_id=campaign)  # fmt: skip
            else:
                answer = await self.ops.control(actor, campaign, verb, body.reason)
            return JSONResponse(answer.model_dump(), status_code=200 if answer.accepted else 409)

        return handler

    async def _suppress(self, request: Request, principal: Principal) -> Response:
        body: SuppressBody = await _body(request, SuppressBody)
        expires = body.expires_at if body.expires_at.tzinfo else body.expires_at.replace(tzinfo=UTC)
        if expires <= datetime.now(UTC):
            raise InputError("expires_at is in the past")
        answer = await self.ops.suppress(
            self.actor(principal), request.path_params["fingerprint"], body.reason, expires
        )
        return JSONResponse(answer.model_dump(), status_code=200 if answer.accepted else 409)

    async def _false_positive(self, request: Request, principal: Principal) -> Response:
        body: FalsePositiveBody = await _body(request, FalsePositiveBody)
        if self.ledger is None:
            return _error(503, "this API has no findings ledger")
        fingerprint, reason = request.path_params["fingerprint"], redact(body.reason)
        tenants = mark_false_positive(
            self.ledger.db, fingerprint, by=principal.person, reason=reason, value=body.false_positive,
            tenant=body.tenant,
        )  # fmt: skip
        if not tenants:
            missing = f"no finding {fingerprint}" + (f" in {body.tenant}" if body.tenant else "")
            self.ops.record("false_positive", self.actor(principal), Answer(accepted=False, message=missing),
                            target=fingerprint, reason=reason)  # fmt: skip
            return _error(404, missing)
        label = "a false positive" if body.false_positive else "not a false positive"
        answer = Answer(accepted=True, message=f"marked {label} in {', '.join(tenants)}", state="marked")
        self.ops.record("false_positive", self.actor(principal), answer, target=fingerprint, reason=reason,
                        false_positive=body.false_positive)  # fmt: skip
        return JSONResponse(answer.model_dump())

    def routes(self) -> list[Route]:
        """Starlette routes for `ENDPOINTS` (the same table the OpenAPI description is generated from)."""
        handlers: dict[str, Handler] = {
            "whoami": self._whoami,
            "list": self._status,
            "status": self._status,
            "response": self._response,
            "answer": self._answer,
            "suppress": self._suppress,
            "findings": self._findings,
            "false_positive": self._false_positive,
        }
        return [
            Route(e.path, self.guarded(e.verb, handlers.get(e.name) or self._verb(e.verb)), methods=[e.method])
            for e in ENDPOINTS
        ]


@dataclass(frozen=True)
class Endpoint:
    """One operation of the operator API; `routes()` and `mendflow.api.openapi` are both built from these."""

    name: str
    method: str
    path: str
    """Starlette path (`{campaign_id:path}`: campaign ids contain slashes)."""
    verb: str
    """Key of `NEEDS`: the least role it takes."""
    summary: str
    body: type[BaseModel] | None = None
    answer: str = "answer"
    """`answer` (AnswerBody), `status` (one CampaignStatus), `statuses` (a list), `response` (a ResponseStatus),
    `whoami` or `findings`."""
    query: tuple[str, ...] = ()
    """Query parameters it accepts (all optional strings)."""


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("whoami", "GET", "/v1/whoami", "status", "Who the credential belongs to, their role and groups.",
             answer="whoami"),
    Endpoint("list", "GET", "/v1/campaigns", "status", "Every running campaign's status.", answer="statuses"),
    *(
        Endpoint(verb, "POST", f"/v1/campaigns/{{campaign_id:path}}/{verb}", verb, summary, VerbBody)
        for verb, summary in (
            ("approve", "Approve a campaign awaiting a decision (signed, then checked by the workflow)."),
            ("reject", "Reject a campaign: nothing will be changed (a reason is required)."),
            ("pause", "Pause a rollout before its next resource."),
            ("resume", "Resume a paused rollout."),
            ("abort", "Stop a campaign before its next resource."),
            ("rollback", "Restore the captured prior state of a finished or aborted campaign."),
        )
    ),
    Endpoint("status", "GET", "/v1/campaigns/{campaign_id:path}", "status",
             "A campaign's plan, batch, changes, decisions and timeline.", answer="status"),
    Endpoint("response", "GET", "/v1/responses/{run_id:path}", "status",
             "A response run's step timeline, decisions and the changes a rollback would restore (the verbs are "
             "the campaigns': POST /v1/campaigns/{run id}/pause and so on).", answer="response"),
    Endpoint("answer", "POST", "/v1/responses/{run_id:path}/answer", "answer",
             "Answer a question a response run (or one page of its for_each) waits on; the run decides whether you "
             "may: the person asked, or one of its operators.", AnswerQuestionBody),
    Endpoint("findings", "GET", "/v1/findings", "findings",
             "Findings in the ledger: every filter given must match (`limit` rows at most, 1000 by default).",
             answer="findings", query=("tenant", "severity", "status", "rule", "false_positive", "limit")),
    Endpoint("suppress", "POST", "/v1/findings/{fingerprint}/suppress", "suppress",
             "Accept a finding's risk until `expires_at`; answered once the worker has checked it.", SuppressBody),
    Endpoint("false_positive", "POST", "/v1/findings/{fingerprint}/false-positive", "false_positive",
             "Mark a finding a false positive (or unmark it): it stops counting as open; M7 counts it.",
             FalsePositiveBody),
)  # fmt: skip


__all__ = [
    "ENDPOINTS",
    "MAX_BODY",
    "NEEDS",
    "AnswerBody",
    "AnswerQuestionBody",
    "Endpoint",
    "ErrorBody",
    "FalsePositiveBody",
    "OperatorApi",
    "SuppressBody",
    "VerbBody",
]
