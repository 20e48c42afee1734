"""A provider's webhook endpoint (`Provider.webhooks`), and what the shared delivery pipeline offers it.

The pipeline (`mendflow.api.webhooks.WebhookReceiver`) is written once: bounded body, JSON, audit, replay check,
the rescan request, and the refusal answer. An endpoint says how its vendor authenticates a delivery and which
configured tenant sent it, the delivery id, and the canonical paths the event names (`connectors.targeted`); it
also describes itself for the OpenAPI document. It raises `Refused` for anything it will not accept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from mendflow.webhooks.config import WebhookTenant


class Refused(Exception):
    """A delivery refused with `status` for `reason` (words an auditor understands; never a value)."""

    def __init__(self, status: int, reason: str, **details: Any) -> None:
        self.status = status
        self.reason = reason
        self.details = details
        super().__init__(reason)


class Pipeline(Protocol):
    """The shared steps an endpoint calls."""

    secrets: dict[str, str]
    """Tenant key → its resolved webhook secret."""

    async def body(self, request: Request) -> bytes: ...

    def json_object(self, body: bytes) -> dict[str, Any]: ...

    def record(self, vendor: str, outcome: str, reason: str, **details: Any) -> None: ...

    async def hand_over(
        self, vendor: str, tenant: str, delivery: str, targets: list[str], **details: Any
    ) -> Response: ...


Handler = Callable[[Pipeline, Request, list[WebhookTenant]], Awaitable[Response]]
"""(pipeline, request, this provider's configured webhook tenants) → the answer; raises `Refused`."""


@dataclass(frozen=True, kw_only=True)
class WebhookEndpoint:
    """`/webhooks/<provider>` for one provider."""

    methods: tuple[str, ...]
    handle: Handler
    accepted_status: int = 200
    """The answer to a delivery whose rescan was requested (GitHub: 202)."""
    openapi: Callable[[dict[str, Any]], dict[str, Any]]
    """The shared answers (status → description) → this endpoint's OpenAPI path item."""


__all__ = ["Handler", "Pipeline", "Refused", "WebhookEndpoint"]
