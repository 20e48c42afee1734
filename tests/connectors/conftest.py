"""Fixtures for connector tests: simulated tenants over real loopback HTTP, with faults chosen per test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from mendflow.config import TenantConnection
from mendflow.connectors.registry import Session, open_session
from mendflow.models import Resource
from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.sim.common import FaultPlan
from mendflow.sim.github import create_github_app
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import TenantFile, load_tenant_file, parse_tenant

DATA = Path(__file__).resolve().parents[2] / "src" / "mendflow" / "data"
OKTA_DEMO = DATA / "demo-okta.json"
GITHUB_DEMO = DATA / "demo-github.json"


@dataclass
class Served:
    """A simulator on loopback and a connection to it."""

    app: Starlette
    connection: TenantConnection
    token: str

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        async with open_session(self.connection, token=self.token) as session:
            yield session

    async def collect(self) -> tuple[list[Resource], Session]:
        async with self.session() as session:
            return [r async for r in session.collector.collect()], session


@contextmanager
def serve(tenant: TenantFile, faults: FaultPlan | None = None, **options: Any) -> Iterator[Served]:
    """Serve `tenant` with its provider's simulator; `options` go to the connection (auth_scheme, caps)."""
    token = secrets.token_urlsafe(24)
    register_secret(token)
    factory = create_okta_app if tenant.provider == "okta" else create_github_app
    app = factory(tenant, token=token, faults=faults)
    with serve_in_thread(app) as server:
        connection = TenantConnection(
            key=f"{tenant.provider}:{tenant.tenant}",
            provider=tenant.provider,
            tenant=tenant.tenant if tenant.provider == "okta" else "acme",
            base_url=server.base_url,
            token=SecretRef(ref="env:MENDFLOW_TEST_UNUSED"),
            **options,
        )
        yield Served(app, connection, token)


@pytest.fixture
def okta_tenant() -> TenantFile:
    return load_tenant_file(OKTA_DEMO)


@pytest.fixture
def github_tenant() -> TenantFile:
    return load_tenant_file(GITHUB_DEMO)


@pytest.fixture
def okta_org(okta_tenant: TenantFile) -> Iterator[Served]:
    """The demo Okta org on loopback, no faults."""
    with serve(okta_tenant) as served:
        yield served


def tenant_from(document: dict[str, Any]) -> TenantFile:
    return parse_tenant(document, source="test")


Serve = Callable[..., Any]
