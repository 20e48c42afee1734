"""Okta event hooks: the shared-secret header, the one-time verification, which resources events are about, and
the `GET|POST /webhooks/okta` endpoint (`ENDPOINT`, Okta's `Provider.webhooks`).

Okta sends every delivery (and the verification request) with the header configured on the event hook, usually
`Authorization: <secret>`; there is no body signature. Verification: a GET carrying
`x-okta-verification-challenge`, answered with `{"verification": <that value>}`. A delivery's JSON has a
top-level `eventId` and `data.events[]`, each with an `eventType` and `target[]` objects (`id`, `type`).
`okta_targets` maps those to canonical API paths for a targeted rescan.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mendflow.webhooks.config import WebhookTenant
from mendflow.webhooks.endpoint import Pipeline, Refused, WebhookEndpoint
from mendflow.webhooks.payload import PayloadError, field

CHALLENGE_HEADER = "x-okta-verification-challenge"

_PATHS = {
    "user": "/api/v1/users/{id}",
    "usergroup": "/api/v1/groups/{id}",
    "appinstance": "/api/v1/apps/{id}",
    "policyentity": "/api/v1/policies/{id}",
    "token": "/api/v1/api-tokens/{id}",
    "apitoken": "/api/v1/api-tokens/{id}",
}
"""System Log target types (case-insensitive) → the path a targeted rescan reads."""
EVENT_PREFIXES = (
    "user.lifecycle.",
    "user.account.",
    "user.mfa.factor.",
    "iam.role.",
    "group.user_membership.",
    "group.lifecycle.",
    "policy.",
    "system.api_token.",
    "application.lifecycle.",
)
"""Event types that change something mendflow collects: users (lifecycle, admin roles, factors), groups,
policies and their rules, API tokens, apps."""


def secret_matches(secret: str, header: str) -> bool:
    """Constant-time comparison of the configured shared secret with the header Okta sent."""
    return hmac.compare_digest(secret.encode(), header.encode())


def delivery_id(payload: Any) -> str:
    """The delivery's `eventId` (Okta resends the same one when it retries)."""
    return str(field(payload, "eventId"))


def okta_targets(payload: Any) -> list[str]:
    """The canonical paths a delivery's events are about; PayloadError names the first malformed field."""
    events = (payload.get("data") or {}).get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise PayloadError("data.events", "expected a list of events")
    out: list[str] = []
    for n, event in enumerate(events):
        kind = event.get("eventType") if isinstance(event, dict) else None
        if not isinstance(kind, str):
            raise PayloadError(f"data.events[{n}].eventType", "missing")
        if not kind.startswith(EVENT_PREFIXES):
            continue
        targets = event.get("target") or []
        if not isinstance(targets, list):
            raise PayloadError(f"data.events[{n}].target", "expected a list")
        for target in targets:
            template = _PATHS.get(str(target.get("type", "")).lower()) if isinstance(target, dict) else None
            if template is None:
                continue
            path = template.format(id=field({"id": target.get("id")}, "id"))
            if template == _PATHS["policyentity"] and kind.startswith("policy.rule."):
                path += "/rules"  # a rule changed: re-read the policy's rules (the rule target has no policy id)
            out.append(path)
    return list(dict.fromkeys(out))


def _tenant(pipeline: Pipeline, request: Request, hooks: list[WebhookTenant]) -> str:
    for hook in hooks:
        sent = request.headers.get(hook.header)
        if sent and sent.isascii() and secret_matches(pipeline.secrets[hook.tenant], sent):
            return hook.tenant
    if not any(request.headers.get(hook.header) for hook in hooks):
        raise Refused(401, "no shared-secret header")
    raise Refused(401, "shared-secret header matches no configured tenant")


async def receive(pipeline: Pipeline, request: Request, hooks: list[WebhookTenant]) -> Response:
    """The one-time verification (GET), or a delivery: shared secret → tenant, JSON, event id and targets."""
    if request.method == "GET":  # the one-time verification when the event hook is created
        challenge = request.headers.get(CHALLENGE_HEADER, "")
        if not challenge or len(challenge) > 200:
            raise Refused(400, "GET without an x-okta-verification-challenge header")
        tenant = _tenant(pipeline, request, hooks)
        pipeline.record("okta", "accepted", "event hook verified", tenant=tenant)
        return JSONResponse({"verification": challenge})
    body = await pipeline.body(request)
    tenant = _tenant(pipeline, request, hooks)
    payload = pipeline.json_object(body)
    try:
        delivery = delivery_id(payload)
        targets = okta_targets(payload)
    except PayloadError as err:
        raise Refused(400, "malformed event hook payload", field=err.path, problem=err.problem) from None
    return await pipeline.hand_over("okta", tenant, delivery, targets)


def _openapi(answers: dict[str, Any]) -> dict[str, Any]:
    auth = {
        "name": "Authorization",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "The event hook's shared secret (header name configurable).",
    }
    challenge = {"name": CHALLENGE_HEADER, "in": "header", "required": True, "schema": {"type": "string"}}
    return {
        "get": {
            "operationId": "webhook_okta_verify",
            "summary": "Okta's one-time event hook verification: echoes x-okta-verification-challenge.",
            "security": [],
            "parameters": [auth, challenge],
            "responses": {k: v for k, v in answers.items() if k in ("200", "400", "401")},
        },
        "post": {
            "operationId": "webhook_okta",
            "summary": "Okta event hook deliveries → targeted rescans of the users, policies, tokens, apps, groups.",
            "security": [],
            "parameters": [auth],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"200": {"description": "Rescan requested, or ignored (see above)."}, **answers},
        },
    }


ENDPOINT = WebhookEndpoint(methods=("GET", "POST"), handle=receive, openapi=_openapi)

__all__ = ["CHALLENGE_HEADER", "ENDPOINT", "EVENT_PREFIXES", "delivery_id", "okta_targets", "secret_matches"]
