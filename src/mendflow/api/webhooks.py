"""`/webhooks/<provider>` (`POST /webhooks/github`, `GET|POST /webhooks/okta`): vendor deliveries become targeted
rescans. Each provider's endpoint (`Provider.webhooks`, `mendflow.webhooks.endpoint`) authenticates its vendor's
deliveries and maps them to paths; this module is the pipeline they share.

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

from mendflow import providers
from mendflow.api.body import read_bounded
from mendflow.audit import AuditEvent, AuditLog
from mendflow.errors import MendflowError
from mendflow.redaction import redact
from mendflow.telemetry import get_logger
from mendflow.webhooks.config import WebhookSettings
from mendflow.webhooks.endpoint import Refused, WebhookEndpoint

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


class WebhookReceiver:
    """Every provider's endpoint, sharing the audit log, the delivery log and the way rescans are requested (the
    `mendflow.webhooks.endpoint.Pipeline` the endpoints call)."""

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
        """`/webhooks/<provider>` for each provider with an endpoint and at least one configured tenant."""
        routes = []
        for provider in providers.providers():
            if provider.webhooks is not None and self.settings.of(provider.name):
                endpoint = provider.webhooks()
                routes.append(
                    Route(
                        f"/webhooks/{provider.name}",
                        self._serve(provider.name, endpoint),
                        methods=list(endpoint.methods),
                        name=f"webhook_{provider.name}",
                    )
                )
        return routes

    def _serve(self, vendor: str, endpoint: WebhookEndpoint) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            try:
                return await endpoint.handle(self, request, self.settings.of(vendor))
            except Refused as refusal:
                return self._refused(vendor, request, refusal)

        return serve

    # --- shared -------------------------------------------------------------------------------------------

    def record(self, vendor: str, outcome: str, reason: str, **details: Any) -> None:
        try:
            self.audit.append(
                AuditEvent(kind=f"webhook.{vendor}", outcome=outcome, reason=reason, channel=vendor, details=details)
            )
        except (OSError, MendflowError) as err:
            log.error("audit log write failed", where=self.audit.where, error=redact(str(err)))

    def _refused(self, vendor: str, request: Request, refusal: Refused) -> Response:
        client = request.client.host if request.client else ""
        self.record(vendor, "refused", refusal.reason, status=refusal.status, client=client, **refusal.details)
        log.warning("webhook refused", vendor=vendor, status=refusal.status, reason=refusal.reason)
        return JSONResponse({"error": refusal.reason, **refusal.details}, status_code=refusal.status)

    async def body(self, request: Request) -> bytes:
        try:
            body = await read_bounded(request, self.settings.max_body)
        except ClientDisconnect:
            body = b""
        if body is None:
            raise Refused(413, f"body exceeds {self.settings.max_body} bytes")
        if not body:
            raise Refused(400, "empty or truncated body")
        return body

    def json_object(self, body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "body is not JSON") from None
        if not isinstance(payload, dict):
            raise Refused(400, "body is not a JSON object")
        return payload

    async def hand_over(self, vendor: str, tenant: str, delivery: str, targets: list[str], **details: Any) -> Response:
        """Replay check, then the rescan request; the answer the vendor gets."""
        key = hashlib.sha256(f"{vendor}\x00{tenant}\x00{delivery}".encode()).hexdigest()
        first = await asyncio.to_thread(self.deliveries.first_time, key, self.clock() + REPLAY_WINDOW)
        facts = {"tenant": tenant, "delivery": delivery, **details}
        if not first:
            self.record(vendor, "ignored", "replayed delivery: this delivery id was already handled", **facts)
            log.info("webhook replay ignored", vendor=vendor, tenant=tenant, delivery=delivery)
            return JSONResponse({"ignored": "duplicate delivery"}, status_code=200)
        if not targets:
            self.record(vendor, "ignored", "the event names nothing mendflow collects", **facts)
            return JSONResponse({"ignored": "no resource mendflow collects"}, status_code=200)
        try:
            await self.rescan(tenant, targets, f"{vendor} delivery {delivery}")
        except Exception as err:  # Temporal unreachable: let the vendor retry, and let that retry through
            await asyncio.to_thread(self.deliveries.forget, key)
            text = redact(str(err)) if isinstance(err, MendflowError) else type(err).__name__
            self.record(vendor, "error", f"could not request the rescan: {text}", **facts)
            log.warning("webhook rescan request failed", vendor=vendor, tenant=tenant, error=text)
            return JSONResponse({"error": "could not request the rescan; retry later"}, status_code=503)
        self.record(vendor, "accepted", "rescan requested", targets=targets[:50], **facts)
        endpoint = providers.get(vendor).webhooks
        accepted = endpoint().accepted_status if endpoint is not None else 200
        return JSONResponse({"rescan": targets}, status_code=accepted)


__all__ = ["REPLAY_WINDOW", "DeliveryLog", "MemoryDeliveryLog", "Rescan", "WebhookReceiver"]
