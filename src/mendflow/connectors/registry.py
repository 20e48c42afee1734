"""Provider-neutral entry points: open a session for a tenant, find an action's implementation.

Activities and the offline scanner talk only to this module; it asks the tenant's provider
(`mendflow.providers`) for its HTTP client, collector, app credential and actions, so adding a vendor touches
nothing here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from mendflow import providers
from mendflow.config import TenantConnection
from mendflow.connectors.actions import FieldAction
from mendflow.connectors.coverage import Coverage, CoverageGap
from mendflow.connectors.credentials import Credential, StaticCredential
from mendflow.connectors.http import VendorHttp
from mendflow.errors import ActionError, InputError
from mendflow.models import Resource, ResourceRef
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


def get_action(name: str) -> FieldAction:
    """The implementation of a catalogued action (its provider is the name's first part)."""
    try:
        return providers.provider_of(name).actions()[name]
    except (KeyError, InputError):
        raise ActionError(f"action {name!r} has no implementation in this version of mendflow") from None


def credential_for(connection: TenantConnection, *, token: str | None = None) -> Credential:
    """How this tenant's requests are authorized: an app that mints short-lived tokens, or a long-lived token
    (resolved here, inside the worker; `token` overrides the reference, for simulators and tests)."""
    provider = providers.get(connection.provider)
    if connection.auth is not None:
        if provider.app_credential is None:  # pragma: no cover - config.py refuses an app the provider lacks
            raise InputError(f"tenant {connection.key}: {provider.title} has no app credential")
        return provider.app_credential(connection)
    if token is None:
        if connection.token is None:  # pragma: no cover - TenantConnection requires token or auth
            raise InputError(f"tenant {connection.key}: no credential configured")
        token = connection.token.resolve()
    default = provider.token_schemes[0]
    name = f"tenant {connection.key} (credential {connection.token.ref if connection.token else 'given'})"
    return StaticCredential(header=f"{connection.auth_scheme or default} {token}", name=name)


def _session_parts(connection: TenantConnection, credential: Credential) -> tuple[VendorHttp, Any]:
    provider = providers.get(connection.provider)
    http = provider.http(connection, credential)
    return http, lambda: provider.collector(http, connection.tenant)


@asynccontextmanager
async def open_session(connection: TenantConnection, *, token: str | None = None) -> AsyncIterator[Session]:
    """An authenticated client and collector for one tenant; secrets are resolved here, inside the worker."""
    http, make_collector = _session_parts(connection, credential_for(connection, token=token))
    async with http:
        yield Session(http=http, collector=make_collector())
