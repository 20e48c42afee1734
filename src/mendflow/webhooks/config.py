"""The `webhooks:` section of mendflow.yaml: which tenants accept vendor webhooks, and their secrets by reference."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mendflow import providers
from mendflow.secrets import SecretRef

MAX_BODY = 4 << 20
"""GitHub and Okta deliveries about one change are a few KiB; 4 MiB is far above any of them."""


class WebhookTenant(BaseModel):
    """One tenant's webhook: the secret it is signed (GitHub) or authorized (Okta) with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    """The tenant key (as in the workers' tenants file), e.g. `github:acme`."""
    provider: str
    """A registered provider with a webhook endpoint (`Provider.webhooks`): `github`, `okta`."""
    secret: SecretRef
    """GitHub: the webhook's secret. Okta: the value Okta sends in `header` (the event hook's auth secret)."""
    header: str = "authorization"
    """Okta only: the header carrying the secret (the event hook's "authentication field")."""

    @field_validator("provider")
    @classmethod
    def _accepts_webhooks(cls, value: str) -> str:
        known = [p.name for p in providers.providers() if p.webhooks is not None]
        if value not in known:
            raise ValueError(f"no webhook endpoint for provider {value!r} (endpoints: {', '.join(known)})")
        return value


DEFAULT_DEBOUNCE_MS = 150
"""Measured (bench/latency.py, docs/webhooks.md): time to detect p50 ~0.22 s at ~1.0 rescan per change; 100 ms saved
~50 ms but cost 1.2-1.6 rescans per change (GitHub's two deliveries for one change split), 250 ms ~0.1 s more."""


class WebhookSettings(BaseModel):
    """`/webhooks/<provider>` on the API (`POST /webhooks/github`, `/webhooks/okta`): each delivery becomes a
    targeted rescan."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenants: tuple[WebhookTenant, ...] = ()
    max_body: int = Field(default=MAX_BODY, ge=1024)
    """Bigger deliveries are refused with 413."""
    debounce_ms: int = Field(default=DEFAULT_DEBOUNCE_MS, ge=0, le=60_000)
    """How long a rescan waits for more deliveries about the same tenant before it reads."""

    @model_validator(mode="after")
    def _one_entry_per_tenant(self) -> Self:
        keys = [t.tenant for t in self.tenants]
        if len(keys) != len(set(keys)):
            raise ValueError("a tenant is listed twice under webhooks.tenants")
        return self

    def of(self, provider: str) -> list[WebhookTenant]:
        return [t for t in self.tenants if t.provider == provider]


__all__ = ["DEFAULT_DEBOUNCE_MS", "MAX_BODY", "WebhookSettings", "WebhookTenant"]
