"""Where tenants live and how to reach them. Workflows carry only the tenant key; workers resolve the rest."""

from __future__ import annotations

import functools
import operator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mendflow import providers
from mendflow.connection_auth import ROTATION_DAYS
from mendflow.errors import InputError
from mendflow.secrets import SecretRef
from mendflow.userfiles import load_yaml_file, validation_problems

if TYPE_CHECKING:
    from mendflow.connection_auth import AppAuthConfig as AppCredential
else:
    # every registered provider's app-credential model, told apart by `kind` (GitHub App, Okta service app, …)
    AppCredential = functools.reduce(
        operator.or_, [p.app_auth_model() for p in providers.providers() if p.app_auth_model is not None]
    )


class TenantConnection(BaseModel):
    """How a worker reaches one SaaS tenant's admin API."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    """mendflow's name for the tenant, e.g. `github:acme`."""
    provider: str
    """A registered provider (`mendflow.providers`): `github`, `okta`."""
    tenant: str
    """The vendor's name for it: GitHub org login, Okta org host."""
    base_url: str = ""
    """Default per provider (`Provider.default_base_url`): GitHub's API; for Okta `https://{tenant}` (the org
    host)."""
    token: SecretRef | None = None
    """A long-lived token (GitHub fine-grained PAT, Okta SSWS API token); give either this or `auth`."""
    auth: AppCredential | None = Field(default=None, discriminator="kind")
    """An app that mints short-lived tokens (preferred): `kind: github_app` or `kind: okta_service_app` (each
    provider's `app_auth_model`)."""
    token_created: date | None = None
    """When the long-lived `token` was made (Okta reveals it for API tokens; GitHub only the expiry)."""
    rotation_days: int = Field(default=ROTATION_DAYS, ge=1)
    """Warn when a long-lived credential (token or app key) is older than this many days."""
    auth_scheme: str | None = None
    """How the token is sent, one of the provider's `token_schemes` (the first is the default): Okta API tokens
    use `SSWS` (Okta's default), OAuth access tokens `Bearer` (the only scheme, and the default, for GitHub)."""
    max_concurrency: int | None = Field(default=None, ge=1)
    """Requests in flight at once for this tenant (default 8); at most GitHub's 100 or Okta's 75."""
    request_budget: int | None = Field(default=None, ge=1)
    """Most requests one scan may send (retries included); a scan that needs more fails, naming this budget."""

    @field_validator("provider")
    @classmethod
    def _registered(cls, value: str) -> str:
        return providers.known(value)

    @model_validator(mode="before")
    @classmethod
    def _provider_base_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("base_url") and data.get("provider") in providers.names():
            default = providers.get(data["provider"]).default_base_url(str(data.get("tenant")))
            return {**data, "base_url": default}
        return data

    @model_validator(mode="after")
    def _within_vendor_limits(self) -> Self:
        provider = providers.get(self.provider)
        cap = provider.concurrency_cap
        if self.max_concurrency is not None and self.max_concurrency > cap:
            raise ValueError(f"max_concurrency {self.max_concurrency} exceeds {self.provider}'s limit of {cap}")
        if self.auth_scheme is not None and self.auth_scheme not in provider.token_schemes:
            schemes = " or ".join(provider.token_schemes)
            raise ValueError(f"auth_scheme {self.auth_scheme} is not {provider.title}'s; tokens are sent as {schemes}")
        if (self.token is None) == (self.auth is None):
            raise ValueError("give exactly one of 'token' (a long-lived token) and 'auth' (an app)")
        wanted = provider.app_auth_kind
        if self.auth is not None and self.auth.kind != wanted:
            use = f"use {wanted!r}" if wanted else f"{provider.title} has no app credential; use 'token'"
            raise ValueError(f"auth kind {self.auth.kind!r} is not for {self.provider}; {use}")
        return self


class TenantRegistry(BaseModel):
    """All tenants a worker may scan and remediate."""

    model_config = ConfigDict(extra="forbid")

    tenants: dict[str, TenantConnection] = Field(default_factory=dict)

    def get(self, key: str) -> TenantConnection:
        try:
            return self.tenants[key]
        except KeyError:
            known = ", ".join(sorted(self.tenants)) or "none"
            raise InputError(f"unknown tenant {key!r}; this worker knows: {known}") from None

    def add(self, connection: TenantConnection) -> None:
        self.tenants[connection.key] = connection

    @classmethod
    def from_file(cls, path: Path) -> TenantRegistry:
        """Load `tenants: [{key, provider, tenant, base_url, token: {ref: env:NAME}}]` from YAML."""
        raw = load_yaml_file(path, what="tenants config")
        listed = raw.get("tenants", []) if isinstance(raw, dict) else None
        if not isinstance(listed, list):
            raise InputError(f"{path}: invalid tenants config: $.tenants: expected a list of tenants")
        items = []
        for index, item in enumerate(listed):
            try:
                items.append(TenantConnection.model_validate(item))
            except ValidationError as err:  # never str(err): it quotes the input, e.g. a token pasted in clear
                problems = "; ".join(validation_problems(err, prefix=("tenants", index)))
                raise InputError(f"{path}: invalid tenants config: {problems}") from None
        return cls(tenants={item.key: item for item in items})
