"""Offline evaluation of a tenant file: the production connector against an in-process simulator.

No Temporal and no vendor: the tenant file is served on loopback by its provider's simulator
(`Provider.simulator`, the one `mendflow sim` runs), read by the same collector a worker uses, and evaluated as of
the file's `taken_at` (or now), so results are reproducible. `simulated_tenant` keeps the simulator up for callers
that read more (the dry-run planner); served read-only, it refuses every write.

Big tenant files are read incrementally (`tenant_stream`): checked in one streaming pass, then served and
evaluated `CHUNK_REPOS` items of the provider's streamed collection (GitHub's repositories) at a time, keeping
only the findings, so memory does not grow with the org.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mendflow import providers
from mendflow.config import TenantConnection
from mendflow.connectors.registry import Session, open_session
from mendflow.findings.risk import CriticalityConfig, score_findings
from mendflow.models import Finding, Resource
from mendflow.playbooks.model import Playbook
from mendflow.redaction import register_secret
from mendflow.rules import RuleError, compile_rules
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.tenant import TenantFile
from mendflow.tenant_stream import CheckedTenant, check, repo_chunks

CHUNK_REPOS = 500
"""Repositories served and evaluated at a time by an offline scan (a few MB of vendor JSON)."""


@dataclass(frozen=True)
class OfflineScan:
    tenant: TenantFile
    """The tenant's envelope and org-level part (a streamed big file's repositories are not kept)."""
    resources: list[Resource]
    """Every resource read, when asked for (`keep_resources`); otherwise empty."""
    findings: list[Finding]
    errors: list[RuleError]
    gaps: list[str]
    as_of: datetime
    resource_count: int = 0
    """How many resources were read and evaluated."""


class _ReadOnly:
    """In front of a simulator: GET passes, anything else is refused (405) and counted."""

    def __init__(self, app: ASGIApp, refused: list[str]) -> None:
        self.app = app
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            self.refused.append(f"{scope['method']} {scope['path']}")
            body = json.dumps({"message": "read-only simulator: writes are refused"}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class SimulatedTenant:
    """A tenant file served on loopback, and how to reach it."""

    tenant: TenantFile
    connection: TenantConnection
    token: str
    state: Any
    """The simulator's state (`app.state.<provider>`, e.g. a `GithubState`): compare it before and after to see
    what was written."""
    refused_writes: list[str] = field(default_factory=list)
    """Writes a read-only simulator refused (`PATCH /orgs/acme`)."""


@contextmanager
def simulated_tenant(tenant: TenantFile, *, read_only: bool = False) -> Iterator[SimulatedTenant]:
    """Serve `tenant` on loopback for the length of the block."""
    token = secrets.token_urlsafe(24)
    register_secret(token)
    app = providers.get(tenant.provider).simulator(tenant, token)
    refused: list[str] = []
    with serve_in_thread(_ReadOnly(app, refused) if read_only else app) as server:
        connection = TenantConnection(
            key=f"{tenant.provider}:{tenant.tenant}",
            provider=tenant.provider,
            tenant=tenant.tenant,
            base_url=server.base_url,
            token=SecretRef(ref="env:MENDFLOW_OFFLINE_UNUSED"),
        )
        yield SimulatedTenant(tenant, connection, token, getattr(app.state, tenant.provider), refused)


async def collect(session: Session) -> tuple[list[Resource], list[str]]:
    """Every resource the session's collector yields, and the coverage gaps it met."""
    resources = [resource async for resource in session.collector.collect()]
    return resources, [f"{gap.endpoint}: {gap.reason}" for gap in session.collector.gaps]


def evaluate(
    tenant: TenantFile,
    resources: Sequence[Resource],
    playbooks: Sequence[Playbook],
    *,
    as_of: datetime,
    criticality: CriticalityConfig | None = None,
) -> tuple[list[Finding], list[RuleError]]:
    """Run the rules over collected resources and score each finding's risk."""
    result = compile_rules(list(playbooks)).evaluate(
        resources, tenant=tenant.tenant, provider=tenant.provider, as_of=as_of
    )
    return score_findings(result.findings, resources, criticality), result.errors


def _collect_served(tenant: TenantFile) -> tuple[list[Resource], list[str]]:
    with simulated_tenant(tenant) as sim:

        async def read() -> tuple[list[Resource], list[str]]:
            async with open_session(sim.connection, token=sim.token) as session:
                return await collect(session)

        return asyncio.run(read())


@dataclass(frozen=True)
class OfflineChunk:
    """What one chunk of a tenant file gave: its resources (org-level ones in the first chunk only)."""

    resources: list[Resource]
    findings: list[Finding]
    errors: list[RuleError]
    gaps: list[str]


def scan_chunks(
    checked: CheckedTenant,
    playbooks: Sequence[Playbook],
    *,
    as_of: datetime,
    criticality: CriticalityConfig | None = None,
    chunk: int = CHUNK_REPOS,
) -> Iterator[OfflineChunk]:
    """Serve the checked file `chunk` repositories at a time, collect through the connector, evaluate each.

    Callers that print as they go (the CLI) hold one chunk at a time, whatever the size of the tenant.
    """
    rules = compile_rules(list(playbooks))
    streamed = providers.get(checked.head.provider).streamed
    # resource types every chunk repeats (each chunk is served with the org): kept from the first chunk only
    repeated = streamed.repeated if streamed is not None else frozenset()
    for number, part in enumerate(repo_chunks(checked, chunk)):
        resources, gaps = _collect_served(part)
        if number > 0:
            resources = [r for r in resources if r.type not in repeated]
        result = rules.evaluate(resources, tenant=part.tenant, provider=part.provider, as_of=as_of)
        findings = score_findings(result.findings, resources, criticality)
        yield OfflineChunk(resources, findings, result.errors, gaps)


def scan_tenant_file(
    path: Path,
    playbooks: Sequence[Playbook],
    *,
    criticality: CriticalityConfig | None = None,
    keep_resources: bool = True,
    chunk: int = CHUNK_REPOS,
) -> OfflineScan:
    """Check the file, then scan it chunk by chunk (see `scan_chunks`), keeping every finding."""
    checked = check(path)
    as_of = checked.head.taken_at or datetime.now(UTC)
    kept: list[Resource] = []
    findings: list[Finding] = []
    errors: list[RuleError] = []
    gaps: dict[str, None] = {}
    count = 0
    for part in scan_chunks(checked, playbooks, as_of=as_of, criticality=criticality, chunk=chunk):
        findings += part.findings
        errors += part.errors
        gaps.update(dict.fromkeys(part.gaps))
        count += len(part.resources)
        if keep_resources:
            kept += part.resources
    return OfflineScan(checked.head, kept, findings, errors, list(gaps), as_of, resource_count=count)
