"""The `webhooks:` section of mendflow.yaml: which tenants accept vendor webhooks, and their secrets by reference."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mendflow.secrets import SecretRef

MAX_BODY = 4 << 20
"""GitHub and Okta deliveries about one change are a few KiB; 4 MiB is far above any of them."""


class WebhookTenant(BaseModel):
    """One tenant's webhook: the secret it is signed (GitHub) or authorized (Okta) with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    """The tenant key (as in the workers' tenants file), e.g. `github:acme`."""
    provider: Literal["github", "okta"]
    secret: SecretRef
    """GitHub: the webhook's secret. Okta: the value Okta sends in `header` (the event hook's auth secret)."""
    header: str = "authorization"
    """Okta only: the header carrying the secret (the event hook's "authentication field")."""


DEFAULT_DEBOUNCE_MS = 150
"""Measured (bench/latency.py, docs/webhooks.md): time to detect p50 ~0.22 s at ~1.0 rescan per change; 100 ms saved
~50 ms but cost 1.2-1.6 rescans per change (GitHub's two deliveries for one change split), 250 ms ~0.1 s more."""


class WebhookSettings(BaseModel):
    """`POST /webhooks/github` and `/webhooks/okta` on the API: each delivery becomes a targeted rescan."""

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
