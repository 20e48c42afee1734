"""The ledger after a targeted rescan: only what was read, or is known deleted, resolves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mendflow.findings.store import FindingsLedger, FindingStatus
from mendflow.store import Database
from tests.findings import T0, hook_finding

WEB, API = "/repos/acme/web/hooks/1", "/repos/acme/api/hooks/2"


def _ledger(tmp_path: Path) -> FindingsLedger:
    ledger = FindingsLedger(Database.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"))
    first = [hook_finding(WEB), hook_finding(API)]
    ledger.reconcile("github:acme", first, rules=[first[0].rule], seen_at=T0)
    return ledger


def _statuses(ledger: FindingsLedger) -> dict[str, tuple[FindingStatus, str | None]]:
    return {row.finding.resource.id: (row.status, row.resolution) for row in ledger.rows("github:acme")}


def test_a_rescan_resolves_nothing_outside_what_it_read_or_covered(tmp_path: Path) -> None:
    """A rescan of one repository's hooks that no longer finds its hook resolves it (deleted); the other stays."""
    ledger = _ledger(tmp_path)
    outcome = ledger.reconcile(
        "github:acme",
        [],
        rules=[hook_finding(WEB).rule],
        seen_at=T0 + timedelta(minutes=1),
        read=set(),
        complete=False,
        covered=["/repos/acme/web/hooks"],
    )
    assert outcome.gone == [hook_finding(WEB).fingerprint]
    statuses = _statuses(ledger)
    assert statuses[WEB] == (FindingStatus.resolved, "resource deleted")
    assert statuses[API][0] is FindingStatus.open


def test_a_resource_read_without_its_finding_is_fixed_elsewhere(tmp_path: Path) -> None:
    """A hook that was read and no longer fires resolves as fixed elsewhere, even though nothing was covered."""
    ledger = _ledger(tmp_path)
    ledger.reconcile(
        "github:acme", [], rules=[hook_finding(WEB).rule], seen_at=T0 + timedelta(minutes=1), read={WEB}, complete=False
    )
    statuses = _statuses(ledger)
    assert statuses[WEB] == (FindingStatus.resolved, "fixed elsewhere")
    assert statuses[API][0] is FindingStatus.open


def test_a_covered_scope_is_a_path_prefix_not_a_string_prefix(tmp_path: Path) -> None:
    """Covering `/repos/acme/we` does not cover `/repos/acme/web/...`."""
    ledger = _ledger(tmp_path)
    outcome = ledger.reconcile(
        "github:acme",
        [],
        rules=[hook_finding(WEB).rule],
        seen_at=T0,
        read=set(),
        complete=False,
        covered=["/repos/acme/we"],
    )
    assert outcome.gone == [] and _statuses(ledger)[WEB][0] is FindingStatus.open
