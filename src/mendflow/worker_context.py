"""Everything a worker's activities need, built once at worker start-up.

Activities are methods of classes holding this context (not module globals), so tests and the demo can run
several workers with different data directories and tenants in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mendflow.config import TenantRegistry
from mendflow.errors import InputError
from mendflow.evidence.snapshots import SnapshotStore
from mendflow.findings_store import FindingsLedger
from mendflow.playbook import Playbook
from mendflow.rules import RuleSet, compile_rules
from mendflow.settings import Settings


@dataclass
class WorkerContext:
    registry: TenantRegistry
    data_dir: Path
    playbooks: dict[str, Playbook]
    settings: Settings = field(default_factory=Settings)
    """RBAC, change windows and write budgets (`mendflow.yaml`)."""
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
