"""`POST /webhooks/github` and `GET|POST /webhooks/okta`: vendor deliveries become targeted rescans.

Each delivery is checked in this order, and each refusal is answered, logged (one line, never the body or a
secret) and audited:

| check | refused with |
|---|---|
| body within `webhooks.max_body` | 413 |
| signature (GitHub `X-Hub-Signature-256`) or shared-secret header (Okta) present and well-formed | 401 |
| it matches the secret of a configured tenant (constant time, one comparison per tenant) | 401 |
| JSON, with the event's documented fields (event and delivery headers for GitHub) | 400 |
| delivery id (`X-GitHub-Delivery`, Okta's `eventId`) not seen before | 200, ignored |

A replay is answered 200 (and audited as ignored) rather than refused: a redelivery of a delivery already handled
is a duplicate the vendor should stop sending, and a replayed body can do no more than the original did (ask
for a rescan). The delivery id is forgotten again when the rescan could not be requested (503), so the vendor's
retry is handled. The mapped targets are signalled to the tenant's RescanWorkflow (`runtime.rescans`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mendflow.api.body import read_bounded
from mendflow.audit import AuditEvent, AuditLog
from mendflow.errors import MendflowError
from mendflow.redaction import redact
from mendflow.telemetry import get_logger
from mendflow.webhooks.config import WebhookSettings
from mendflow.webhooks.github import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    github_targets,
    signature_matches,
    well_formed,
)
from mendflow.webhooks.okta import CHALLENGE_HEADER, delivery_id, okta_targets, secret_matches
from mendflow.webhooks.payload import PayloadError

REPLAY_WINDOW = 7 * 24 * 3600
"""Seconds a delivery id is remembered: GitHub lets a delivery be redelivered for 3 days; Okta retries once."""

Rescan = Callable[[str, list[str], str], Awaitable[None]]
"""(tenant key, targets, source) → the rescan is requested (raises if it could not be)."""

log = get_logger(__name__)


class DeliveryLog(Protocol):
    """Delivery ids already handled: `mendflow.store.StoredReplayCache` in the shared database."""

    def first_time(self, key: str, expires_at: float) -> bool: ...

    def forget(self, key: str) -> None: ...


class MemoryDeliveryLog:
    """This process only (tests, an API without a database)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._seen: dict[str, float] = {}

    def first_time(self, key: str, expires_at: float) -> bool:
        now = self.clock()
        self._seen = {k: v for k, v in self._seen.items() if v >= now}
        if key in self._seen:
            return False
        self._seen[key] = expires_at
        return True

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)


class Refused(Exception):
    """A delivery refused with `status` for `reason` (words an auditor understands; never a value)."""

    def __init__(self, status: int, reason: str, **details: Any) -> None:
        self.status = status
        self.reason = reason
        self.details = details
        super().__init__(reason)


class WebhookReceiver:
    """Both endpoints, sharing the audit log, the delivery log and the way rescans are requested."""

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        audit: AuditLog,
        deliveries: DeliveryLog,
        rescan: Rescan,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.audit = audit
        self.deliveries = deliveries
        self.rescan = rescan
        self.clock = clock
        # resolved once, at start: a missing secret stops the API with the reference named, not a delivery
        self.secrets = {t.tenant: t.secret.resolve() for t in settings.tenants}

    def routes(self) -> list[Route]:
        routes = []
        if self.settings.of("github"):
            routes.append(Route("/webhooks/github", self.github, methods=["POST"]))
        if self.settings.of("okta"):
            routes.append(Route("/webhooks/okta", self.okta, methods=["GET", "POST"]))
        return routes

    # --- shared -------------------------------------------------------------------------------------------

    def _record(self, vendor: str, outcome: str, reason: str, **details: Any) -> None:
        try:
            self.audit.append(
                AuditEvent(kind=f"webhook.{vendor}", outcome=outcome, reason=reason, channel=vendor, details=details)
            )
        except (OSError, MendflowError) as err:
            log.error("audit log write failed", where=self.audit.where, error=redact(str(err)))

    def _refused(self, vendor: str, request: Request, refusal: Refused) -> Response:
        client = request.client.host if request.client else ""
        self._record(vendor, "refused", refusal.reason, status=refusal.status, client=client, **refusal.details)
        log.warning("webhook refused", vendor=vendor, status=refusal.status, reason=refusal.reason)
        return JSONResponse({"error": refusal.reason, **refusal.details}, status_code=refusal.status)

    async def _body(self, request: Request) -> bytes:
        try:
            body = await read_bounded(request, self.settings.max_body)
        except ClientDisconnect:
            body = b""
        if body is None:
            raise Refused(413, f"body exceeds {self.settings.max_body} bytes")
        if not body:
            raise Refused(400, "empty or truncated body")
        return body

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "body is not JSON") from None
        if not isinstance(payload, dict):
            raise Refused(400, "body is not a JSON object")
        return payload

    async def _hand_over(self, vendor: str, tenant: str, delivery: str, targets: list[str], **details: Any) -> Response:
        """Replay check, then the rescan request; the answer the vendor gets."""
        key = hashlib.sha256(f"{vendor}\x00{tenant}\x00{delivery}".encode()).hexdigest()
        first = await asyncio.to_thread(self.deliveries.first_time, key, self.clock() + REPLAY_WINDOW)
        facts = {"tenant": tenant, "delivery": delivery, **details}
        if not first:
            self._record(vendor, "ignored", "replayed delivery: this delivery id was already handled", **facts)
            log.info("webhook replay ignored", vendor=vendor, tenant=tenant, delivery=delivery)
            return JSONResponse({"ignored": "duplicate delivery"}, status_code=200)
        if not targets:
            self._record(vendor, "ignored", "the event names nothing mendflow collects", **facts)
            return JSONResponse({"ignored": "no resource mendflow collects"}, status_code=200)
        try:
            await self.rescan(tenant, targets, f"{vendor} delivery {delivery}")
        except Exception as err:  # Temporal unreachable: let the vendor retry, and let that retry through
            await asyncio.to_thread(self.deliveries.forget, key)
            text = redact(str(err)) if isinstance(err, MendflowError) else type(err).__name__
            self._record(vendor, "error", f"could not request the rescan: {text}", **facts)
            log.warning("webhook rescan request failed", vendor=vendor, tenant=tenant, error=text)
            return JSONResponse({"error": "could not request the rescan; retry later"}, status_code=503)
        self._record(vendor, "accepted", "rescan requested", targets=targets[:50], **facts)
        return JSONResponse({"rescan": targets}, status_code=202 if vendor == "github" else 200)

    # --- GitHub -------------------------------------------------------------------------------------------

    async def github(self, request: Request) -> Response:
        try:
            return await self._github(request)
        except Refused as refusal:
            return self._refused("github", request, refusal)

    async def _github(self, request: Request) -> Response:
        body = await self._body(request)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise Refused(401, "unsigned delivery: no X-Hub-Signature-256 header")
        if not signature.isascii() or not well_formed(signature):
            raise Refused(401, "malformed X-Hub-Signature-256 (expected sha256= and 64 hex digits)")
        tenant = next(
            (
                t.tenant
                for t in self.settings.of("github")
                if signature_matches(self.secrets[t.tenant], body, signature)
            ),
            None,
        )
        if tenant is None:
            raise Refused(401, "signature matches no configured tenant's webhook secret")
        event = request.headers.get(EVENT_HEADER, "")
        delivery = request.headers.get(DELIVERY_HEADER, "")
        if not event or not delivery or len(delivery) > 100 or len(event) > 100:
            raise Refused(400, "missing or oversized X-GitHub-Event or X-GitHub-Delivery header", tenant=tenant)
        payload = self._json(body)
        if event == "ping":
            self._record("github", "accepted", "ping", tenant=tenant, delivery=delivery)
            return JSONResponse({"ok": True})
        try:
            targets = github_targets(event, payload)
        except PayloadError as err:
            raise Refused(400, f"malformed {event} payload", field=err.path, problem=err.problem) from None
        return await self._hand_over("github", tenant, delivery, targets, event=event)

    # --- Okta ---------------------------------------------------------------------------------------------

    async def okta(self, request: Request) -> Response:
        try:
            return await self._okta(request)
        except Refused as refusal:
            return self._refused("okta", request, refusal)

    def _okta_tenant(self, request: Request) -> str:
        for hook in self.settings.of("okta"):
            sent = request.headers.get(hook.header)
            if sent and sent.isascii() and secret_matches(self.secrets[hook.tenant], sent):
                return hook.tenant
        if not any(request.headers.get(hook.header) for hook in self.settings.of("okta")):
            raise Refused(401, "no shared-secret header")
        raise Refused(401, "shared-secret header matches no configured tenant")

    async def _okta(self, request: Request) -> Response:
        if request.method == "GET":  # the one-time verification when the event hook is created
            challenge = request.headers.get(CHALLENGE_HEADER, "")
            if not challenge or len(challenge) > 200:
                raise Refused(400, "GET without an x-okta-verification-challenge header")
            tenant = self._okta_tenant(request)
            self._record("okta", "accepted", "event hook verified", tenant=tenant)
            return JSONResponse({"verification": challenge})
        body = await self._body(request)
        tenant = self._okta_tenant(request)
        payload = self._json(body)
        try:
            delivery = delivery_id(payload)
            targets = okta_targets(payload)
        except PayloadError as err:
            raise Refused(400, "malformed event hook payload", field=err.path, problem=err.problem) from None
        return await self._hand_over("okta", tenant, delivery, targets)


__all__ = ["REPLAY_WINDOW", "DeliveryLog", "MemoryDeliveryLog", "Rescan", "WebhookReceiver"]
