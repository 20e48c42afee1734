"""Where tenants live and how to reach them. Workflows carry only the tenant key; workers resolve the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mendflow.errors import InputError
from mendflow.secrets import SecretRef


class TenantConnection(BaseModel):
    """How a worker reaches one SaaS tenant's admin API."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    """mendflow's name for the tenant, e.g. `github:acme`."""
    provider: Literal["github", "okta"]
    tenant: str
    """The vendor's name for it: GitHub org login, Okta org host."""
    base_url: str = "https://api.github.com"
    token: SecretRef


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
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            items = [TenantConnection.model_validate(item) for item in raw.get("tenants", [])]
        except (OSError, yaml.YAMLError, ValidationError, AttributeError) as err:
            raise InputError(f"{path}: invalid tenants config: {err}") from None
        return cls(tenants={item.key: item for item in items})
