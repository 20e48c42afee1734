"""Everything a worker's activities need, built once at worker start-up.

Activities are methods of classes holding this context (not module globals), so tests and the demo can run
several workers with different data directories and tenants in one process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.connectors.github import GithubCollector, github_http
from mendflow.connectors.http import VendorHttp
from mendflow.errors import InputError
from mendflow.evidence.snapshots import SnapshotStore
from mendflow.findings_store import FindingsLedger
from mendflow.playbook import Playbook
from mendflow.rules import RuleSet, compile_rules


@dataclass
class WorkerContext:
    registry: TenantRegistry
    data_dir: Path
    playbooks: dict[str, Playbook]
    snapshots: SnapshotStore = field(init=False)
    ledger: FindingsLedger = field(init=False)
    rules: RuleSet = field(init=False)

    def __post_init__(self) -> None:
        self.snapshots = SnapshotStore(self.data_dir / "snapshots")
        self.ledger = FindingsLedger(self.data_dir / "findings.sqlite3")
        self.rules = compile_rules(list(self.playbooks.values()))

    def playbook(self, playbook_id: str) -> Playbook:
        try:
            return self.playbooks[playbook_id]
        except KeyError:
            raise InputError(f"playbook {playbook_id!r} is not loaded on this worker") from None


@asynccontextmanager
async def github_session(connection: TenantConnection) -> AsyncIterator[tuple[VendorHttp, GithubCollector]]:
    """An authenticated GitHub client and collector for one tenant; the token is resolved here only."""
    if connection.provider != "github":
        raise InputError(f"tenant {connection.key}: provider {connection.provider} has no connector yet")
    token = connection.token.resolve()
    async with github_http(connection, token) as http:
        yield http, GithubCollector(http, connection.tenant)
