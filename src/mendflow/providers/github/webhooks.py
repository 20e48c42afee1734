"""GitHub webhooks: the signature GitHub puts on a delivery, which resources each event is about, and the
`POST /webhooks/github` endpoint (`ENDPOINT`, GitHub's `Provider.webhooks`).

GitHub signs the raw body: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(webhook secret, body)>` (checked here
against GitHub's published test vector). `github_targets` maps an event to the canonical API paths a targeted
rescan re-reads (`connectors.targeted`); events about nothing mendflow collects map to none.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mendflow.webhooks.config import WebhookTenant
from mendflow.webhooks.endpoint import Pipeline, Refused, WebhookEndpoint
from mendflow.webhooks.payload import PayloadError, field

SIGNATURE_HEADER = "x-hub-signature-256"
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"
_PREFIX = "sha256="


def github_signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends with `body` (simulators sign their deliveries with it)."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def well_formed(signature: str) -> bool:
    """`sha256=` and 64 lower-case hex digits (anything else is refused before any comparison)."""
    digest = signature[len(_PREFIX) :]
    return signature.startswith(_PREFIX) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


def signature_matches(secret: str, body: bytes, signature: str) -> bool:
    """Constant-time comparison of a well-formed signature with the one `secret` gives `body`."""
    return hmac.compare_digest(github_signature(secret, body).encode(), signature.encode())


def _repo(payload: dict[str, Any]) -> str:
    return f"/repos/{field(payload, 'repository', 'owner', 'login')}/{field(payload, 'repository', 'name')}"


def _org(payload: dict[str, Any]) -> str:
    if isinstance(payload.get("organization"), dict):
        return str(field(payload, "organization", "login"))
    return str(field(payload, "repository", "owner", "login"))


def _login(payload: dict[str, Any], *paths: tuple[str, ...]) -> str:
    for path in paths:
        try:
            return str(field(payload, *path))
        except PayloadError:
            continue
    raise PayloadError(".".join(paths[0]), "missing")


def _repository(payload: dict[str, Any]) -> list[str]:
    targets = [_repo(payload)]
    previous = (((payload.get("changes") or {}).get("repository") or {}).get("name") or {}).get("from")
    if isinstance(previous, str) and previous:  # renamed: the old path is gone, so its findings resolve
        old = field({"from": previous}, "from")
        targets.append(f"/repos/{field(payload, 'repository', 'owner', 'login')}/{old}")
    return targets


def _organization(payload: dict[str, Any]) -> list[str]:
    org = _org(payload)
    if payload.get("action") in ("member_added", "member_removed", "member_invited"):
        login = _login(payload, ("membership", "user", "login"), ("user", "login"), ("invitation", "login"))
        return [f"/orgs/{org}/memberships/{login}"]
    return [f"/orgs/{org}"]


def _hook(payload: dict[str, Any]) -> list[str]:
    kind = field(payload, "hook", "type")
    if kind == "Repository":
        return [_repo(payload) + "/hooks"]
    if kind == "Organization":
        return [f"/orgs/{_org(payload)}/hooks"]
    return []


def _ruleset(payload: dict[str, Any]) -> list[str]:
    # an organization ruleset (no repository in the payload) touches every repository: a full scan's job
    return [_repo(payload)] if isinstance(payload.get("repository"), dict) else []


_EVENTS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "repository": _repository,
    "public": lambda p: [_repo(p)],
    "security_and_analysis": lambda p: [_repo(p)],
    "branch_protection_rule": lambda p: [_repo(p)],
    "branch_protection_configuration": lambda p: [_repo(p)],
    "repository_ruleset": _ruleset,
    "member": lambda p: [_repo(p) + "/collaborators"],
    "organization": _organization,
    "membership": lambda p: [f"/orgs/{_org(p)}/memberships/{field(p, 'member', 'login')}"],
    "meta": _hook,
    "deploy_key": lambda p: [_repo(p) + "/keys"],
}
MAPPED_EVENTS = frozenset(_EVENTS)
"""Events that can name a resource mendflow collects (subscribe the webhook to these, or to everything)."""


def github_targets(event: str, payload: dict[str, Any]) -> list[str]:
    """The canonical paths `event` is about (none for events mendflow does not collect); `PayloadError` names the
    first missing field."""
    mapper = _EVENTS.get(event)
    return list(dict.fromkeys(mapper(payload))) if mapper else []


async def receive(pipeline: Pipeline, request: Request, hooks: list[WebhookTenant]) -> Response:
    """A delivery: signature → tenant, event and delivery headers, JSON, then the targets it names."""
    body = await pipeline.body(request)
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise Refused(401, "unsigned delivery: no X-Hub-Signature-256 header")
    if not signature.isascii() or not well_formed(signature):
        raise Refused(401, "malformed X-Hub-Signature-256 (expected sha256= and 64 hex digits)")
    tenant = next((t.tenant for t in hooks if signature_matches(pipeline.secrets[t.tenant], body, signature)), None)
    if tenant is None:
        raise Refused(401, "signature matches no configured tenant's webhook secret")
    event = request.headers.get(EVENT_HEADER, "")
    delivery = request.headers.get(DELIVERY_HEADER, "")
    if not event or not delivery or len(delivery) > 100 or len(event) > 100:
        raise Refused(400, "missing or oversized X-GitHub-Event or X-GitHub-Delivery header", tenant=tenant)
    payload = pipeline.json_object(body)
    if event == "ping":
        pipeline.record("github", "accepted", "ping", tenant=tenant, delivery=delivery)
        return JSONResponse({"ok": True})
    try:
        targets = github_targets(event, payload)
    except PayloadError as err:
        raise Refused(400, f"malformed {event} payload", field=err.path, problem=err.problem) from None
    return await pipeline.hand_over("github", tenant, delivery, targets, event=event)


def _openapi(answers: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "operationId": "webhook_github",
            "summary": "GitHub webhook deliveries → targeted rescans of the resources they name.",
            "description": "Authenticated by X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the tenant's "
            "webhook secret), not by a bearer token; X-GitHub-Delivery ids are remembered for 7 days.",
            "security": [],
            "parameters": [
                {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                for h in ("X-Hub-Signature-256", "X-GitHub-Event", "X-GitHub-Delivery")
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"202": {"description": "Rescan requested."}, **answers},
        }
    }


ENDPOINT = WebhookEndpoint(methods=("POST",), handle=receive, accepted_status=202, openapi=_openapi)

__all__ = [
    "DELIVERY_HEADER",
    "ENDPOINT",
    "EVENT_HEADER",
    "MAPPED_EVENTS",
    "SIGNATURE_HEADER",
    "github_signature",
    "github_targets",
    "signature_matches",
    "well_formed",
]
