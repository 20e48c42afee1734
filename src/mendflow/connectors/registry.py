"""Provider-neutral entry points: open a session for a tenant, find an action's implementation.

Activities and the offline scanner talk only to this module, so adding a vendor means adding its collector,
its action recipes and one line in each table here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from mendflow.config import TenantConnection
from mendflow.connection_auth import GithubAppAuth, OktaServiceAppAuth
from mendflow.connectors.actions import FieldAction
from mendflow.connectors.coverage import Coverage, CoverageGap
from mendflow.connectors.credentials import Credential, StaticCredential
from mendflow.connectors.http import VendorHttp
from mendflow.errors import ActionError, InputError
from mendflow.models import Resource, ResourceRef
from mendflow.providers.github.actions import GITHUB_ACTIONS
from mendflow.providers.github.app_auth import GithubAppCredential
from mendflow.providers.github.collector import GithubCollector, github_http
from mendflow.providers.okta.actions import OKTA_ACTIONS
from mendflow.providers.okta.app_auth import OktaServiceCredential
from mendflow.providers.okta.collector import OktaCollector, okta_http
from mendflow.rules.demand import Demand


class Collector(Protocol):
    """What every vendor connector offers for reading."""

    @property
    def gaps(self) -> list[CoverageGap]: ...

    @property
    def coverage(self) -> Coverage: ...

    def collect(self, demand: Demand | None = None) -> AsyncIterator[Resource]: ...

    async def fetch(self, ref: ResourceRef, demand: Demand | None = None) -> Resource | None: ...


@dataclass(frozen=True)
class Session:
    http: VendorHttp
    collector: Collector


IMPLEMENTATIONS: dict[str, FieldAction] = {**GITHUB_ACTIONS, **OKTA_ACTIONS}


def get_action(name: str) -> FieldAction:
    """The implementation of a catalogued action."""
    try:
        return IMPLEMENTATIONS[name]
    except KeyError:
        raise ActionError(f"action {name!r} has no implementation in this version of mendflow") from None


def credential_for(connection: TenantConnection, *, token: str | None = None) -> Credential:
    """How this tenant's requests are authorized: an app that mints short-lived tokens, or a long-lived token
    (resolved here, inside the worker; `token` overrides the reference, for simulators and tests)."""
    if isinstance(connection.auth, GithubAppAuth):
        return GithubAppCredential(
            connection.auth, tenant=connection.key, org=connection.tenant, base_url=connection.base_url
        )
    if isinstance(connection.auth, OktaServiceAppAuth):
        return OktaServiceCredential(connection.auth, tenant=connection.key, base_url=connection.base_url)
    if token is None:
        if connection.token is None:  # pragma: no cover - TenantConnection requires token or auth
            raise InputError(f"tenant {connection.key}: no credential configured")
        token = connection.token.resolve()
    default = "Bearer" if connection.provider == "github" else "SSWS"
    name = f"tenant {connection.key} (credential {connection.token.ref if connection.token else 'given'})"
    return StaticCredential(header=f"{connection.auth_scheme or default} {token}", name=name)


def _session_parts(connection: TenantConnection, credential: Credential) -> tuple[VendorHttp, Any]:
    if connection.provider == "github":
        http = github_http(connection, credential)
        return http, lambda: GithubCollector(http, connection.tenant)
    if connection.provider == "okta":
        http = okta_http(connection, credential)
        return http, lambda: OktaCollector(http, connection.tenant)
    raise InputError(f"tenant {connection.key}: provider {connection.provider} has no connector yet")


@asynccontextmanager
async def open_session(connection: TenantConnection, *, token: str | None = None) -> AsyncIterator[Session]:
    """An authenticated client and collector for one tenant; secrets are resolved here, inside the worker."""
    http, make_collector = _session_parts(connection, credential_for(connection, token=token))
    async with http:
        yield Session(http=http, collector=make_collector())
