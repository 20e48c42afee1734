"""Offline evaluation of a tenant file: the production connector against an in-process simulator.

No Temporal and no vendor: the tenant file is served by `mendflow sim` on loopback, read by the same
`GithubCollector` a worker uses, and evaluated as of the file's `taken_at` (or now), so results are reproducible.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mendflow.config import TenantConnection
from mendflow.connectors.registry import open_session
from mendflow.errors import InputError
from mendflow.models import Finding, Resource
from mendflow.playbook import Playbook
from mendflow.redaction import register_secret
from mendflow.rules import RuleError, compile_rules
from mendflow.secrets import SecretRef
from mendflow.sim.github import create_github_app
from mendflow.sim.server import serve_in_thread
from mendflow.tenant import TenantFile, load_tenant_file


@dataclass(frozen=True)
class OfflineScan:
    tenant: TenantFile
    resources: list[Resource]
    findings: list[Finding]
    errors: list[RuleError]
    gaps: list[str]
    as_of: datetime


async def _collect(base_url: str, tenant: TenantFile, token: str) -> tuple[list[Resource], list[str]]:
    connection = TenantConnection(
        key=f"{tenant.provider}:{tenant.tenant}",
        provider=tenant.provider,
        tenant=tenant.tenant,
        base_url=base_url,
        token=SecretRef(ref="env:MENDFLOW_OFFLINE_UNUSED"),
    )
    async with open_session(connection, token=token) as session:
        resources = [resource async for resource in session.collector.collect()]
        gaps = [f"{gap.endpoint}: {gap.reason}" for gap in session.collector.gaps]
    return resources, gaps


def scan_tenant_file(path: Path, playbooks: Sequence[Playbook]) -> OfflineScan:
    """Serve the file, collect it through the connector, evaluate `playbooks` over it."""
    tenant = load_tenant_file(path)
    if tenant.provider != "github":
        raise InputError(f"{path}: provider {tenant.provider!r} has no connector in this version (github only)")
    token = secrets.token_urlsafe(24)
    register_secret(token)
    with serve_in_thread(create_github_app(tenant, token=token)) as server:
        resources, gaps = asyncio.run(_collect(server.base_url, tenant, token))
    as_of = tenant.taken_at or datetime.now(UTC)
    result = compile_rules(list(playbooks)).evaluate(
        resources, tenant=tenant.tenant, provider=tenant.provider, as_of=as_of
    )
    return OfflineScan(tenant, resources, result.findings, result.errors, gaps, as_of)
