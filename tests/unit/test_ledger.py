"""The findings ledger: new / still open / gone, and campaign ownership."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mendflow.findings_store import FindingsLedger, FindingStatus, campaign_id
from mendflow.models import Finding, ResourceRef, Severity, fingerprint

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def finding(resource: str, rule: str = "github.repo_hook.insecure_ssl") -> Finding:
    return Finding(
        fingerprint=fingerprint("acme", rule, resource),
        tenant="acme",
        provider="github",
        rule=rule,
        title="t",
        severity=Severity.high,
        resource=ResourceRef(type="github.repo_hook", id=resource),
        evidence={},
        observed_at=T0,
    )


def test_reconcile_sorts_new_still_open_and_gone(tmp_path: Path) -> None:
    """A second scan sees one finding again, one gone, one new."""
    ledger = FindingsLedger(tmp_path / "l.db")
    a, b, c = finding("/a"), finding("/b"), finding("/c")
    first = ledger.reconcile("github:acme", [a, b], rules=[a.rule], seen_at=T0)
    assert sorted(first.new) == sorted([a.fingerprint, b.fingerprint])
    second = ledger.reconcile("github:acme", [a, c], rules=[a.rule], seen_at=T0 + timedelta(hours=1))
    assert second.new == [c.fingerprint]
    assert second.still_open == [a.fingerprint]
    assert second.gone == [b.fingerprint]
    statuses = {row.finding.fingerprint: row.status for row in ledger.rows("github:acme")}
    assert statuses[b.fingerprint] == FindingStatus.resolved


def test_findings_of_rules_not_evaluated_are_not_resolved(tmp_path: Path) -> None:
    """Absence only counts as 'gone' when the rule actually ran."""
    ledger = FindingsLedger(tmp_path / "l.db")
    a = finding("/a")
    ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    again = ledger.reconcile("github:acme", [], rules=["some.other.rule"], seen_at=T0)
    assert again.gone == []


def test_claimed_findings_are_not_offered_to_a_second_campaign(tmp_path: Path) -> None:
    """Once a campaign owns a finding, the next scan lists it as still open but not unclaimed."""
    ledger = FindingsLedger(tmp_path / "l.db")
    a = finding("/a")
    first = ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    cid = campaign_id("github:acme", a.rule, first.unclaimed)
    assert ledger.claim([a.fingerprint], cid) == [a.fingerprint]
    assert ledger.claim([a.fingerprint], "another-campaign") == []
    second = ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    assert second.unclaimed == [] and second.still_open == [a.fingerprint]


def test_a_finding_that_comes_back_gets_a_new_campaign_id(tmp_path: Path) -> None:
    """Resolved then regressed: new first_seen, so the content-derived campaign id differs."""
    ledger = FindingsLedger(tmp_path / "l.db")
    a = finding("/a")
    first = ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    id1 = campaign_id("github:acme", a.rule, first.unclaimed)
    ledger.claim([a.fingerprint], id1)
    ledger.settle({a.fingerprint: FindingStatus.resolved}, id1)
    back = ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0 + timedelta(days=1))
    assert back.new == [a.fingerprint]
    assert campaign_id("github:acme", a.rule, back.unclaimed) != id1
