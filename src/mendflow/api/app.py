"""mendflow's HTTP API (ASGI, Starlette): Slack interactivity and a health check.

`create_api_app` is transport only: what a decision does is the `decide` callable it is given. In production
that is `temporal_decider(client)`, which sends the `decide` workflow update to the campaign's workflow (the
workflow id is the campaign id) and turns a validator's rejection into a refused `DecisionOutcome`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from mendflow.api.slack_interactivity import (
    Decide,
    ReplayCache,
    RequestVerifier,
    Respond,
    SlackInteractions,
    slack_endpoint,
)
from mendflow.audit import AuditLog
from mendflow.errors import ConnectionProblem
from mendflow.integrations.slack import SlackCards, SlackDirectory, respond_via_url
from mendflow.models import Decision, DecisionOutcome
from mendflow.redaction import redact, register_secret

DECIDE_UPDATE = "decide"


def create_api_app(
    *,
    slack_signing_secret: str,
    decide: Decide,
    directory: SlackDirectory | None,
    audit: AuditLog,
    clock: Callable[[], float] = time.time,
    cards: SlackCards | None = None,
    respond: Respond = respond_via_url,
    confirm_accepted: bool = True,
    replay: ReplayCache | None = None,
) -> Starlette:
    """The API app. `app.state.slack` is the `SlackInteractions` handler (share it with Socket Mode; `drain()` it
    on shutdown so clicks being decided are not lost). `replay`: where signed Slack requests already received are
    kept (`StoredReplayCache` in the shared database; default: this process's memory)."""
    register_secret(slack_signing_secret)
    interactions = SlackInteractions(
        decide=decide,
        directory=directory,
        audit=audit,
        cards=cards,
        respond=respond,
        confirm_accepted=confirm_accepted,
    )
    verifier = RequestVerifier(slack_signing_secret, clock=clock, seen=replay)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/slack/interactivity", slack_endpoint(interactions, verifier), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
    app.state.slack = interactions
    return app


def temporal_decider(
    client: Client,
    *,
    update: str = DECIDE_UPDATE,
    workflow_id: Callable[[str], str] = lambda campaign_id: campaign_id,
) -> Decide:
    """`decide` through Temporal: the workflow update `update(Decision) -> DecisionOutcome` on the campaign."""

    async def decide(campaign_id: str, decision: Decision) -> DecisionOutcome:
        handle = client.get_workflow_handle(workflow_id(campaign_id))
        try:
            outcome: DecisionOutcome = await handle.execute_update(update, decision, result_type=DecisionOutcome)
            return outcome
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            message = getattr(cause, "message", "") or str(cause or err)
            return DecisionOutcome(accepted=False, message=redact(message))
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return DecisionOutcome(
                    accepted=False, message=f"campaign {campaign_id} is not running (finished, or never existed)"
                )
            raise ConnectionProblem(f"Temporal refused the decision for {campaign_id}: {redact(err.message)}") from None

    return decide


__all__ = ["DECIDE_UPDATE", "create_api_app", "temporal_decider"]
