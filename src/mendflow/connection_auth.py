"""How a worker proves itself to a tenant, as configuration: a long-lived token, or an app that mints short ones.

    token: {ref: env:NAME}                 GitHub fine-grained PAT, Okta SSWS API token (long-lived)
    auth: {kind: github_app, ...}          app id + private key → RS256 JWT → installation token (1 h)
    auth: {kind: okta_service_app, ...}    client id + private key → private_key_jwt → scoped access token (1 h)

Each provider declares the model of its `auth:` (`Provider.app_auth_model`: `providers/github/auth_config.py`,
`providers/okta/auth_config.py`); this module holds what they share. Only references to secrets live in them; the
connectors (`providers/<name>/app_auth.py`) resolve them inside the worker. `key_created` is the day the private
key (or token) was made: the vendors do not reveal it for app keys, so the operator records it and `doctor` warns
once it is older than `rotation_days`.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from mendflow.secrets import SecretRef

ROTATION_DAYS = 90
"""Long-lived credentials older than this are reported for rotation (the integration-security practice's 90 days)."""


class AppAuthConfig(Protocol):
    """What `doctor` and the rotation warning read of any provider's app-credential configuration
    (`Provider.app_auth_model`: GitHub's `GithubAppAuth`, Okta's `OktaServiceAppAuth`)."""

    @property
    def kind(self) -> str: ...

    @property
    def private_key(self) -> SecretRef: ...

    @property
    def key_created(self) -> date | None: ...
