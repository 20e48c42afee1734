"""Everything a worker's activities need, built once at worker start-up.

Activities are methods of classes holding this context (not module globals), so tests and the demo can run
several workers with different data directories and tenants in one process.

State that any worker may need — the findings ledger, snapshots, idempotency keys, the audit chain — lives in
the database named by `database_url` (default: `$MENDFLOW_DATABASE_URL`, else SQLite in the data directory),
so workers that share a PostgreSQL can each run any activity. It is opened (and migrated) here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mendflow.audit import AuditLog
from mendflow.config import TenantRegistry
from mendflow.errors import InputError
from mendflow.evidence.snapshots import DatabaseSnapshotStore, Snapshots
from mendflow.findings.store import FindingsLedger
from mendflow.playbooks.model import Playbook
from mendflow.playbooks.policy import check_policy, tenant_playbooks
from mendflow.responses.model import ResponsePlaybook
from mendflow.rules import RuleSet, compile_rules
from mendflow.settings import Settings
from mendflow.store import Database, IdempotencyKeys, database_url


@dataclass
class WorkerContext:
    registry: TenantRegistry
    data_dir: Path
    playbooks: dict[str, Playbook]
    settings: Settings = field(default_factory=Settings)
    """RBAC, change windows and write budgets (`mendflow.yaml`)."""
    database_url: str | None = None
    """`--database-url`; None: `$MENDFLOW_DATABASE_URL`, else SQLite in `data_dir`."""
    responses: dict[str, ResponsePlaybook] = field(default_factory=dict)
    """Workflow playbooks loaded on this worker: one with `triggers: [{finding: RULE}]` starts a run per finding of
    RULE that a scan or rescan opens (`mendflow.responses.triggers`); none loaded, none started."""
    database: Database = field(init=False)
    snapshots: Snapshots = field(init=False)
    ledger: FindingsLedger = field(init=False)
    idempotency: IdempotencyKeys = field(init=False)
    """Side effects already done, by (workflow id, step key)."""
    audit: AuditLog = field(init=False)
    rules: RuleSet = field(init=False)
    """The rules with every parameter at its default; `rules_for` binds a tenant's `policy:` values."""
    _tenant_rules: dict[str, RuleSet] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        check_policy(self.settings.policy, self.playbooks, path=self.settings.source)  # before opening anything
        self.database = Database.open(database_url(self.data_dir, self.database_url))
        self.snapshots = DatabaseSnapshotStore(self.database)
        self.ledger = FindingsLedger(self.database)
        self.idempotency = IdempotencyKeys(self.database)
        self.audit = AuditLog(self.database)
        self.rules = compile_rules(list(self.playbooks.values()))

    def close(self) -> None:
        """Release the database connections."""
        self.database.dispose()

    def playbook(self, playbook_id: str, tenant_key: str | None = None) -> Playbook:
        """A loaded playbook; with `tenant_key`, with that tenant's parameter values (`policy:`) bound."""
        try:
            playbook = self.playbooks[playbook_id]
        except KeyError:
            raise InputError(f"playbook {playbook_id!r} is not loaded on this worker") from None
        overrides = self.settings.policy.get(tenant_key, {}).get(playbook_id) if tenant_key else None
        return playbook.with_params(overrides) if overrides else playbook

    def rules_for(self, tenant_key: str) -> RuleSet:
        """The compiled rules with the tenant's parameter values (`policy:` in mendflow.yaml), compiled once."""
        overrides = self.settings.policy.get(tenant_key)
        if not overrides:
            return self.rules
        if tenant_key not in self._tenant_rules:
            self._tenant_rules[tenant_key] = compile_rules(tenant_playbooks(self.playbooks, overrides))
        return self._tenant_rules[tenant_key]
