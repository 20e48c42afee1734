"""SSPM indicators: read from the shared store when scraped, histograms recorded as scans find and resolve."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from mendflow.findings.false_positives import mark_false_positive
from mendflow.findings.store import FindingsLedger, FindingStatus
from mendflow.models import Severity
from mendflow.store import Database
from mendflow.telemetry import scan_facts
from mendflow.telemetry.exposition import MetricsPipeline
from tests.findings import T0, hook_finding
from tests.telemetry.conftest import scrape, total

ADMIN_RULE = "github.collaborator.outside_admin"


def test_gauges_and_histograms_follow_the_ledger(tmp_path: Path, pipeline: MetricsPipeline) -> None:
    """Coverage, open findings by severity, over-permissioned accounts, FP rate, automated rate and compliance
    come out of the tables; time to detect and remediate are recorded from the scans' timestamps."""
    db = Database.open(f"sqlite:///{tmp_path / 'm.db'}")
    pipeline.observe_store(db)
    tenant = f"github:t{uuid.uuid4().hex[:8]}"
    ledger = FindingsLedger(db)
    hooks = [f"/repos/acme/r{i}/hooks/1" for i in range(4)]
    admin = hook_finding("/repos/acme/r0/collaborators/eve", rule=ADMIN_RULE, severity=Severity.critical)
    first = [hook_finding(h) for h in hooks[:3]] + [admin]
    rules = [first[0].rule, ADMIN_RULE]

    scan_facts.record_inventory(db, tenant, resources=10, expected=8, read=6)
    ledger.reconcile(tenant, first, rules=rules, seen_at=T0, read=set(hooks) | {admin.resource.id})
    scan_facts.record_reconciled(db, tenant, seen_at=T0)
    # An hour later: r0's hook was fixed by hand, r3's hook is new.
    t1 = T0 + timedelta(hours=1)
    later = [hook_finding(h) for h in hooks[1:]] + [admin]
    before = scrape(pipeline)
    ledger.reconcile(tenant, later, rules=rules, seen_at=t1, read=set(hooks) | {admin.resource.id})
    scan_facts.record_reconciled(db, tenant, seen_at=t1)
    # r1's campaign fixed it, settled 2 hours after it was opened
    ledger.claim([later[0].fingerprint], "c1", tenant=tenant)
    ledger.settle({later[0].fingerprint: FindingStatus.resolved}, "c1")
    scan_facts.record_settled(db, tenant, {later[0].fingerprint: "resolved"}, now=T0 + timedelta(hours=2))
    assert mark_false_positive(db, later[1].fingerprint, by="alice", reason="test repo", tenant=tenant) == [tenant]
    after = scrape(pipeline)

    def gauge(name: str, **labels: str) -> float:
        return total(after, name, tenant=tenant, **labels)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, tenant=tenant, **labels) - total(before, name, tenant=tenant, **labels)

    assert gauge("mendflow_inventory_coverage_ratio") == 0.75
    assert gauge("mendflow_inventory_resources") == 10
    # open: r3's hook (high) and the admin (critical); r2 is a false positive, r0 and r1 resolved
    assert gauge("mendflow_findings_open", severity="high") == 1
    assert gauge("mendflow_findings_open", severity="critical") == 1
    assert gauge("mendflow_accounts_over_permissioned") == 1
    assert gauge("mendflow_findings_false_positive_ratio") == 1 / 5
    assert gauge("mendflow_remediation_automated_ratio") == 0  # r1 was settled, but no change was verified
    assert gauge("mendflow_policy_compliance_ratio") == (10 - 2) / 10
    # M2: r3 found one hour after the previous scan; M3: r0 resolved by the scan after 1 h, r1 by its campaign
    assert grew("mendflow_finding_time_to_detect_seconds_count", severity="high") == 1
    assert grew("mendflow_finding_time_to_detect_seconds_sum", severity="high") == 3600
    assert grew("mendflow_finding_time_to_remediate_seconds_count") == 2
    assert grew("mendflow_finding_time_to_remediate_seconds_sum") == 3600 + 7200
    db.dispose()


def test_a_false_positive_mark_is_recorded_in_the_findings_history(tmp_path: Path) -> None:
    """Marking names who and why in the finding's history; an unknown fingerprint changes nothing."""
    db = Database.open(f"sqlite:///{tmp_path / 'm.db'}")
    ledger = FindingsLedger(db)
    finding = hook_finding("/repos/acme/api/hooks/1")
    ledger.reconcile("github:acme", [finding], rules=[finding.rule], seen_at=T0)
    assert mark_false_positive(db, "0" * 64, by="alice", reason="x") == []
    assert mark_false_positive(db, finding.fingerprint, by="alice", reason="lab org") == ["github:acme"]
    history = ledger.history("github:acme", finding.fingerprint)
    assert history[-1][2] == "marked a false positive by alice: lab org"
    assert mark_false_positive(db, finding.fingerprint, by="bob", reason="real", value=False) == ["github:acme"]
    assert ledger.history("github:acme", finding.fingerprint)[-1][2] == "unmarked as a false positive by bob: real"
    db.dispose()


def test_open_campaigns_are_waiting_until_a_change_is_verified(tmp_path: Path, pipeline: MetricsPipeline) -> None:
    """A campaign owning findings counts as `waiting` (approval, freeze) until one change verifies: `changing`."""
    db = Database.open(f"sqlite:///{tmp_path / 'm.db'}")
    pipeline.observe_store(db)
    tenant = f"github:c{uuid.uuid4().hex[:8]}"
    ledger = FindingsLedger(db)
    found = [hook_finding(f"/repos/acme/r{i}/hooks/1") for i in range(2)]
    ledger.reconcile(tenant, found, rules=[found[0].rule], seen_at=T0)
    ledger.claim([f.fingerprint for f in found], "campaign-1", tenant=tenant)

    def phases() -> tuple[float, float]:
        samples = scrape(pipeline)
        return tuple(total(samples, "mendflow_campaigns_open", tenant=tenant, phase=p) for p in ("waiting", "changing"))  # type: ignore[return-value]

    assert phases() == (1, 0)
    assert ledger.mark_verified(found[0].fingerprint, campaign="campaign-1", tenant=tenant)
    assert phases() == (0, 1)
    ledger.settle({f.fingerprint: FindingStatus.resolved for f in found}, "campaign-1")
    assert phases() == (0, 0)
    db.dispose()


def test_time_to_detect_counts_from_the_last_complete_scan(tmp_path: Path, pipeline: MetricsPipeline) -> None:
    """A targeted rescan (or one with coverage gaps) did not see the whole tenant: it does not restart the clock."""
    db = Database.open(f"sqlite:///{tmp_path / 'm.db'}")
    tenant = f"github:d{uuid.uuid4().hex[:8]}"
    ledger = FindingsLedger(db)
    scan_facts.record_reconciled(db, tenant, seen_at=T0)  # a complete scan that found nothing
    scan_facts.record_reconciled(db, tenant, seen_at=T0 + timedelta(hours=1), complete=False)
    late = T0 + timedelta(hours=3)
    found = hook_finding("/repos/acme/api/hooks/9", severity=Severity.low)
    ledger.reconcile(tenant, [found], rules=[found.rule], seen_at=late)
    before = scrape(pipeline)
    scan_facts.record_reconciled(db, tenant, seen_at=late)
    after = scrape(pipeline)
    name = "mendflow_finding_time_to_detect_seconds_sum"
    assert total(after, name, tenant=tenant) - total(before, name, tenant=tenant) == 3 * 3600
    db.dispose()
