"""Simulated vendors deliver webhooks when their state changes, signed as the vendors sign them.

`Deliveries` is ASGI middleware inside a simulator's gate: after a write answered 2xx (by mendflow or by a person
changing the tenant by hand), it builds the events the vendor would send for that write and POSTs each one to
the configured URL in the background — GitHub with `X-GitHub-Event`, `X-GitHub-Delivery` and
`X-Hub-Signature-256` (HMAC-SHA256 of the body with the secret), Okta as an event hook with the secret in the
`Authorization` header. Which writes produce which events follows the vendors: GitHub, for example, sends no event
when a webhook is created or its config edited (only `meta` when it is deleted), nor when org settings change.
`app.state.deliveries` counts what was sent and what failed.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mendflow.providers.github.webhooks import github_signature
from mendflow.sim.common import JSON

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class WebhookTarget:
    """Where a simulator delivers its webhooks, and the secret it signs (GitHub) or authorizes (Okta) them with."""

    url: str
    secret: str


@dataclass
class Delivery:
    """One event to send: the vendor's event name (GitHub) and its JSON body."""

    event: str
    payload: JSON


EventsFor = Callable[[str, str, JSON], list[Delivery]]
"""(method, path, request body) of a write answered 2xx → the events the vendor sends for it."""


# ---- GitHub -------------------------------------------------------------------------------------------------
_GH = [
    (re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"), "repo"),
    (re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/branches/.+/protection"), "protection"),
    (re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/keys(/\d+)?"), "key"),
    (re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/collaborators/(?P<login>[^/]+)"), "collaborator"),
    (re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/hooks/(?P<id>\d+)"), "repo_hook"),
    (re.compile(r"/orgs/(?P<org>[^/]+)/memberships/(?P<login>[^/]+)"), "membership"),
    (re.compile(r"/orgs/(?P<org>[^/]+)/hooks/(?P<id>\d+)"), "org_hook"),
]
_ACTIONS = {"POST": "created", "PUT": "edited", "PATCH": "edited", "DELETE": "deleted"}


def github_events(state: Any) -> EventsFor:
    """The events GitHub sends for a write to the simulated org `state` (a `GithubState`)."""

    def org() -> JSON:
        return {"login": state.login, "id": state.org.get("id"), "node_id": state.org.get("node_id")}

    def repo(name: str) -> JSON:
        try:
            found = state.repo(name)
        except Exception:  # deleted by this write: GitHub still names it
            found = {"name": name, "full_name": f"{state.login}/{name}"}
        owner = {"login": state.login, "type": "Organization"}
        return {k: v for k, v in found.items() if not k.startswith("_")} | {"owner": owner}

    def events(method: str, path: str, body: JSON) -> list[Delivery]:
        kind, m = next(((k, m) for p, k in _GH if (m := p.fullmatch(path))), (None, None))
        if kind is None or m is None:
            return []
        base = {"organization": org(), "sender": {"login": "sim-admin", "type": "User"}}
        action = _ACTIONS[method]
        if kind in ("repo", "protection", "key", "collaborator", "repo_hook"):
            base["repository"] = repo(m["repo"])
        if kind == "repo":
            out = [Delivery("repository", {"action": action, **base})]
            if "security_and_analysis" in body:
                out.append(Delivery("security_and_analysis", {"changes": {"from": {}}, **base}))
            return out
        if kind == "protection":
            return [Delivery("branch_protection_rule", {"action": action, **base})]
        if kind == "key":
            return [Delivery("deploy_key", {"action": action, "key": {"id": 0}, **base})] if method != "PUT" else []
        if kind == "collaborator":
            verb = "removed" if method == "DELETE" else "added"
            return [Delivery("member", {"action": verb, "member": {"login": m["login"]}, **base})]
        if kind == "membership":
            verb = "member_removed" if method == "DELETE" else "member_added"
            membership = {"user": {"login": m["login"]}, "state": "active"}
            return [Delivery("organization", {"action": verb, "membership": membership, **base})]
        if method == "DELETE":  # repo_hook / org_hook: GitHub's `meta` event, sent only when a hook is deleted
            hook = {"id": int(m["id"]), "type": "Repository" if kind == "repo_hook" else "Organization"}
            return [Delivery("meta", {"action": "deleted", "hook_id": int(m["id"]), "hook": hook, **base})]
        return []

    return events


# ---- Okta ---------------------------------------------------------------------------------------------------
_OKTA = [
    (re.compile(r"/api/v1/users/(?P<id>[^/]+)/lifecycle/(?P<op>[a-z]+)"), "lifecycle"),
    (re.compile(r"/api/v1/policies/(?P<policy>[^/]+)"), "policy"),
    (re.compile(r"/api/v1/policies/(?P<policy>[^/]+)/rules/(?P<rule>[^/]+)"), "rule"),
    (re.compile(r"/api/v1/api-tokens/(?P<id>[^/]+)"), "token"),
]


def okta_events(host: str) -> EventsFor:
    """The System Log events an Okta event hook carries for a write to the simulated org at `host`."""

    def event(kind: str, *targets: tuple[str, str]) -> Delivery:
        published = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        item = {
            "uuid": str(uuid.uuid4()), "published": published, "eventType": kind, "version": "0",
            "severity": "INFO", "displayMessage": kind, "actor": {"id": "sim-admin", "type": "User"},
            "target": [{"id": tid, "type": ttype} for ttype, tid in targets],
        }  # fmt: skip
        return Delivery(kind, {"data": {"events": [item]}})

    def events(method: str, path: str, body: JSON) -> list[Delivery]:
        kind, m = next(((k, m) for p, k in _OKTA if (m := p.fullmatch(path))), (None, None))
        if kind is None or m is None:
            return []
        if kind == "lifecycle":
            return [event(f"user.lifecycle.{m['op']}", ("User", m["id"]))]
        if kind == "policy":
            return [event("policy.lifecycle.update", ("PolicyEntity", m["policy"]))]
        if kind == "rule":
            return [event("policy.rule.update", ("PolicyRule", m["rule"]), ("PolicyEntity", m["policy"]))]
        verb = "revoke" if method == "DELETE" else "update"
        return [event(f"system.api_token.{verb}", ("Token", m["id"]))]

    return events


def _okta_envelope(host: str, payload: JSON) -> JSON:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {
        "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
        "source": f"https://{host}/api/v1/eventHooks/whosim", "eventId": str(uuid.uuid4()), "eventTime": now,
        "contentType": "application/json", **payload,
    }  # fmt: skip


# ---- the middleware -----------------------------------------------------------------------------------------
@dataclass
class DeliveryStats:
    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)


class Deliveries:
    """After each write answered 2xx, send the vendor's webhooks for it to `target` (never blocks the answer)."""

    def __init__(
        self, app: ASGIApp, *, vendor: str, target: WebhookTarget, events: EventsFor, stats: DeliveryStats, host: str
    ) -> None:
        self.app = app
        self.vendor = vendor
        self.target = target
        self.events = events
        self.stats = stats
        self.host = host
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        status = [0]

        async def reading() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        await self.app(scope, reading, sending)
        if 200 <= status[0] < 300:
            try:
                body = json.loads(b"".join(chunks) or b"{}")
            except ValueError:
                body = {}
            for delivery in self.events(scope["method"], scope["path"], body if isinstance(body, dict) else {}):
                task = asyncio.get_running_loop().create_task(self._send(delivery))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _send(self, delivery: Delivery) -> None:
        if self.vendor == "github":
            body = json.dumps(delivery.payload).encode()
            headers = {
                "X-GitHub-Event": delivery.event, "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": github_signature(self.target.secret, body),
                "User-Agent": "GitHub-Hookshot/sim", "Content-Type": "application/json",
            }  # fmt: skip
        else:
            body = json.dumps(_okta_envelope(self.host, delivery.payload)).encode()
            headers = {"Authorization": self.target.secret, "Content-Type": "application/json",
                       "User-Agent": "Okta Event Hooks (sim)"}  # fmt: skip
        try:
            # a client per delivery: none is left open when the simulator stops (vendors connect afresh too)
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.post(self.target.url, content=body, headers=headers)
            ok = answer.status_code < 300
        except httpx.HTTPError:
            ok = False
        (self.stats.sent if ok else self.stats.failed)[delivery.event] += 1


__all__ = ["Deliveries", "Delivery", "DeliveryStats", "WebhookTarget", "github_events", "okta_events"]
