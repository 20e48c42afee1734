"""mendflow's HTTP API (ASGI, Starlette): the operator API, Slack interactivity, a health check and `/metrics`.

`create_api_app` is transport only. Whatever the channel, a request ends in `mendflow.api.operations.Operations`,
which signs it with the API's key and sends it to the workflow as a Temporal update; the workflow's validator
verifies that proof and applies RBAC, and its answer is what the caller is told. Slack's `decide` callable is
`temporal_decider(ops)`: the click's person and groups (resolved from server config and Slack user groups) are
signed with `auth=slack`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from temporalio.converter import PayloadCodec

from mendflow.api.codec import codec_routes
from mendflow.api.operations import Actor, Operations
from mendflow.api.operator import OperatorApi
from mendflow.api.slack_interactivity import (
    AnswerClick,
    AnswerQuestion,
    Decide,
    ReplayCache,
    RequestVerifier,
    Respond,
    SlackInteractions,
    slack_endpoint,
)
from mendflow.api.webhooks import WebhookReceiver
from mendflow.audit import AuditLog
from mendflow.integrations.slack import SlackCards, SlackDirectory, SlackIdentity, respond_via_url
from mendflow.models import AuthMethod, Channel, Decision, DecisionOutcome
from mendflow.redaction import register_secret
from mendflow.telemetry.exposition import install_metrics, metrics_route

DECIDE_UPDATE = "decide"


def create_api_app(
    *,
    slack_signing_secret: str | None = None,
    decide: Decide | None = None,
    directory: SlackDirectory | None = None,
    audit: AuditLog,
    clock: Callable[[], float] = time.time,
    cards: SlackCards | None = None,
    respond: Respond = respond_via_url,
    confirm_accepted: bool = True,
    operator: OperatorApi | None = None,
    replay: ReplayCache | None = None,
    codec: PayloadCodec | None = None,
    codec_origins: Sequence[str] = (),
    webhooks: WebhookReceiver | None = None,
    answer: AnswerQuestion | None = None,
) -> Starlette:
    """The API app: the operator API when `operator` is given, Slack interactivity when a signing secret and a
    `decide` are. `app.state.slack` is the `SlackInteractions` handler or None (share it with Socket Mode;
    `drain()` it on shutdown so clicks being decided are not lost). `replay`: where signed Slack requests already
    received are kept (`StoredReplayCache` in the shared database; default: this process's memory). `codec`: the
    payload codec served at `/codec/*` to operators (CORS for `codec_origins`, the Temporal UI's). `webhooks`:
    `POST /webhooks/github` and `/webhooks/okta` (vendor deliveries → targeted rescans)."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"])]
    interactions: SlackInteractions | None = None
    if slack_signing_secret is not None and decide is not None:
        register_secret(slack_signing_secret)
        interactions = SlackInteractions(
            decide=decide,
            directory=directory,
            audit=audit,
            cards=cards,
            respond=respond,
            confirm_accepted=confirm_accepted,
            answer=answer,
        )
        verifier = RequestVerifier(slack_signing_secret, clock=clock, seen=replay)
        routes.append(Route("/slack/interactivity", slack_endpoint(interactions, verifier), methods=["POST"]))
    if operator is not None:
        routes.extend(operator.routes())
        if codec is not None:
            routes.extend(codec_routes(codec, operator, origins=codec_origins))
    # Prometheus text of this process's metrics, and the SSPM gauges from the findings ledger's store
    metrics = install_metrics()
    if operator is not None and operator.ledger is not None:
        metrics.observe_store(operator.ledger.db)
    routes.append(metrics_route(metrics))
    if webhooks is not None:
        routes.extend(webhooks.routes())
    app = Starlette(routes=routes)
    app.state.slack = interactions
    app.state.operator = operator
    return app


def temporal_decider(ops: Operations) -> Decide:
    """`decide` for Slack: the click's person and groups (resolved by the API) signed and sent as the update.

    SlackInteractions audits the click itself, so this does not audit again."""

    async def decide(campaign_id: str, decision: Decision) -> DecisionOutcome:
        actor = Actor(
            person=decision.approver,
            groups=decision.groups,
            auth=AuthMethod.slack,
            channel=decision.channel,
            channel_user=decision.channel_user,
            credential=decision.channel_user,
        )
        return await ops.decide(actor, campaign_id, decision.verdict, decision.reason, audit=False)

    return decide


def temporal_answerer(ops: Operations) -> AnswerQuestion:
    """`answer` for Slack: a question card's button, signed as the clicking person (resolved by the API) and
    sent to the run that asked. SlackInteractions audits the click itself, so this does not audit again."""

    async def answer(click: AnswerClick, who: SlackIdentity) -> tuple[bool, str]:
        actor = Actor(
            person=who.identity,
            groups=who.groups,
            auth=AuthMethod.slack,
            channel=Channel.slack,
            channel_user=click.slack_user,
            credential=click.slack_user,
        )
        result = await ops.answer(actor, click.run, click.question, click.option, audit=False)
        return result.accepted, result.message

    return answer


__all__ = ["DECIDE_UPDATE", "create_api_app", "temporal_answerer", "temporal_decider"]
