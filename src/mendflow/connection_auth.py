"""How a worker proves itself to a tenant, as configuration: a long-lived token, or an app that mints short ones.

    token: {ref: env:NAME}                 GitHub fine-grained PAT, Okta SSWS API token (long-lived)
    auth: {kind: github_app, ...}          app id + private key → RS256 JWT → installation token (1 h)
    auth: {kind: okta_service_app, ...}    client id + private key → private_key_jwt → scoped access token (1 h)

Only references to secrets live here; the connectors (`providers/github/app_auth.py`, `providers/okta/app_auth.py`)
resolve them inside the worker. `key_created` is the day the private key (or token) was made: the vendors do not
reveal it for app keys, so the operator records it and `doctor` warns once it is older than `rotation_days`.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from mendflow.secrets import SecretRef

ROTATION_DAYS = 90
"""Long-lived credentials older than this are reported for rotation (the integration-security practice's 90 days)."""

GithubLevel = Literal["read", "write"]


class GithubAppAuth(BaseModel):
    """A GitHub App installed on the organization; mendflow asks for installation tokens as it needs them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["github_app"]
    app_id: str = Field(min_length=1)
    """The app's id (or client id): the JWT's `iss`."""
    private_key: SecretRef
    """The app's PEM private key (`file:/path` or an `env:` variable with `\\n` escapes)."""
    installation_id: int | None = None
    """The installation on the organization; None: looked up with `GET /orgs/{org}/installation`."""
    permissions: dict[str, GithubLevel] | None = None
    """Narrow each installation token to these permissions (GitHub refuses ones the app was not granted);
    None: every permission the installation holds."""
    repositories: tuple[str, ...] | None = None
    """Narrow each installation token to these repositories (names); None: every repository of the installation."""
    key_created: date | None = None
    """When the private key was generated (GitHub does not reveal it): for the rotation warning."""


class OktaServiceAppAuth(BaseModel):
    """An Okta API Services app (OAuth 2.0 client credentials with `private_key_jwt`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["okta_service_app"]
    client_id: str = Field(min_length=1)
    private_key: SecretRef
    """PEM or JWK (JSON) private key whose public half is registered with the app."""
    key_id: str | None = None
    """`kid` of the registered public key (default: the JWK's own `kid`, if any)."""
    scopes: tuple[str, ...] | None = None
    """The scopes granted to the app in Okta; None: mendflow requests what it needs and learns what is granted."""
    key_created: date | None = None
    """When the key pair was generated: for the rotation warning."""


class AppAuthConfig(Protocol):
    """What `doctor` and the rotation warning read of any provider's app-credential configuration
    (`Provider.app_auth_model`: GitHub's `GithubAppAuth`, Okta's `OktaServiceAppAuth`)."""

    @property
    def kind(self) -> str: ...

    @property
    def private_key(self) -> SecretRef: ...

    @property
    def key_created(self) -> date | None: ...
