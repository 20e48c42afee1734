"""`auth: {kind: github_app, ...}` of a GitHub tenant: the app, its key by reference, and how tokens are narrowed
(GitHub's `Provider.app_auth_model`; `app_auth.GithubAppCredential` mints the tokens)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mendflow.secrets import SecretRef

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
