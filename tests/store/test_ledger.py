"""The findings ledger on SQLite and PostgreSQL: new / still open / gone, ownership, and the lifecycle."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from mendflow.findings.store import FindingsLedger, FindingStatus, Resolution, campaign_id
from mendflow.models import Finding
from mendflow.store import Database
from tests.findings import T0
from tests.findings import hook_finding as finding


def test_reconcile_sorts_new_still_open_and_gone(db: Database) -> None:
    """A second scan sees one finding again, one gone, one new."""
    ledger = FindingsLedger(db)
    a, b, c = finding("/a"), finding("/b"), finding("/c")
    first = ledger.reconcile("github:acme", [a, b], rules=[a.rule], seen_at=T0)
    assert sorted(first.new) == sorted([a.fingerprint, b.fingerprint])
    second = ledger.reconcile("github:acme", [a, c], rules=[a.rule], seen_at=T0 + timedelta(hours=1))
    assert second.new == [c.fingerprint]
    assert second.still_open == [a.fingerprint]
    assert second.gone == [b.fingerprint]
    statuses = {row.finding.fingerprint: row.status for row in ledger.rows("github:acme")}
    assert statuses[b.fingerprint] == FindingStatus.resolved


def test_findings_of_rules_not_evaluated_are_not_resolved(db: Database) -> None:
    """Absence only counts as 'gone' when the rule actually ran."""
    ledger = FindingsLedger(db)
    a = finding("/a")
    ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    again = ledger.reconcile("github:acme", [], rules=["some.other.rule"], seen_at=T0)
    assert again.gone == []


def test_claimed_findings_are_not_offered_to_a_second_campaign(db: Database) -> None:
    """Once a campaign owns a finding, the next scan lists it as still open but not unclaimed."""
    ledger = FindingsLedger(db)
    a = finding("/a")
    first = ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    cid = campaign_id("github:acme", a.rule, first.unclaimed)
    assert ledger.claim([a.fingerprint], cid) == [a.fingerprint]
    assert ledger.claim([a.fingerprint], "another-campaign") == []
    second = ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    assert second.unclaimed == [] and second.still_open == [a.fingerprint]


def test_a_finding_that_comes_back_gets_a_new_campaign_id(db: Database) -> None:
    """Resolved then back: a new `opened_at`, so the content-derived campaign id differs."""
    ledger = FindingsLedger(db)
    a = finding("/a")
    first = ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    id1 = campaign_id("github:acme", a.rule, first.unclaimed)
    ledger.claim([a.fingerprint], id1)
    ledger.settle({a.fingerprint: FindingStatus.resolved}, id1)
    back = ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0 + timedelta(days=1))
    assert back.new == [a.fingerprint]
    assert campaign_id("github:acme", a.rule, back.unclaimed) != id1


def test_a_finding_that_comes_back_is_regressed_and_keeps_first_seen(db: Database) -> None:
    """Seen, resolved, seen again: status `regressed`, first_seen unchanged, opened_at moved, history kept."""
    ledger = FindingsLedger(db)
    a = finding("/a")
    ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    ledger.reconcile("github:acme", [], rules=[a.rule], seen_at=T0 + timedelta(hours=1), read={"/a"})
    back = ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0 + timedelta(hours=2))
    assert back.regressed == [a.fingerprint]
    row = ledger.find(a.fingerprint)
    assert row is not None and row.status is FindingStatus.regressed
    assert row.first_seen == T0 and row.opened_at == T0 + timedelta(hours=2) and row.resolution is None
    assert [r.finding.fingerprint for r in back.unclaimed] == [a.fingerprint]  # offered to a campaign again
    history = [(status, reason) for _, status, reason in ledger.history("github:acme", a.fingerprint)]
    assert history == [
        (FindingStatus.open, "first seen"),
        (FindingStatus.resolved, "fixed elsewhere"),
        (FindingStatus.regressed, "seen again after it resolved"),
    ]


def test_a_collection_that_was_not_read_never_resolves_its_findings(db: Database) -> None:
    """A scan with a coverage gap that did not read a resource keeps its finding open (unverified)."""
    ledger = FindingsLedger(db)
    a, b = finding("/a"), finding("/b")
    ledger.reconcile("github:acme", [a, b], rules=[a.rule], seen_at=T0)
    partial = ledger.reconcile(
        "github:acme", [], rules=[a.rule], seen_at=T0 + timedelta(hours=1), read={"/b"}, complete=False
    )
    assert partial.gone == [b.fingerprint]
    assert partial.unverified == [a.fingerprint]
    statuses = {row.finding.resource.id: (row.status, row.resolution) for row in ledger.rows("github:acme")}
    assert statuses == {"/a": (FindingStatus.open, None), "/b": (FindingStatus.resolved, Resolution.fixed_elsewhere)}


def test_a_complete_scan_without_the_resource_resolves_it_as_deleted(db: Database) -> None:
    """When every collection was read and the resource is not there any more, it is deleted."""
    ledger = FindingsLedger(db)
    a = finding("/a")
    ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    result = ledger.reconcile("github:acme", [], rules=[a.rule], seen_at=T0, read=set(), complete=True)
    assert result.gone == [a.fingerprint]
    row = ledger.find(a.fingerprint)
    assert row is not None and row.resolution is Resolution.resource_deleted


def test_two_tenant_keys_with_the_same_org_name_do_not_collide(db: Database) -> None:
    """`github:acme` and `ghe:acme` (same org name, same fingerprints) each keep their own findings."""
    ledger = FindingsLedger(db)
    a = finding("/a")
    one = ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    two = ledger.reconcile("ghe:acme", [a], rules=[a.rule], seen_at=T0)
    assert one.new == two.new == [a.fingerprint]
    cid = campaign_id("ghe:acme", a.rule, two.unclaimed)
    assert ledger.claim([a.fingerprint], cid, tenant="ghe:acme") == [a.fingerprint]
    assert ledger.rows("github:acme")[0].status is FindingStatus.open
    assert ledger.rows("ghe:acme")[0].status is FindingStatus.remediating
    ledger.reconcile("github:acme", [], rules=[a.rule], seen_at=T0, read={"/a"})
    assert ledger.rows("ghe:acme")[0].status is FindingStatus.remediating


def claimed(ledger: FindingsLedger) -> tuple[Finding, str]:
    """A finding on /a that a scan recorded and its campaign claimed; the campaign's id."""
    a = finding("/a")
    cid = campaign_id("github:acme", a.rule, ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0).unclaimed)
    ledger.claim([a.fingerprint], cid)
    return a, cid


def test_settling_a_fix_records_it_as_fixed_by_mendflow(db: Database) -> None:
    """A campaign that verified its change resolves the finding with the reason `fixed by mendflow`."""
    ledger = FindingsLedger(db)
    a, cid = claimed(ledger)
    assert ledger.mark_verified(a.fingerprint, campaign=cid, tenant="github:acme")
    ledger.settle({a.fingerprint: FindingStatus.resolved}, cid)
    row = ledger.find(a.fingerprint, tenant="github:acme")
    assert row is not None and row.resolution is Resolution.fixed_by_mendflow


def test_a_chunk_of_verified_changes_marks_only_the_campaigns_own_remediating_findings(db: Database) -> None:
    """`mark_verified_many` (a chunk at once) marks the campaign's claimed findings of that tenant, not another
    tenant's, not an unclaimed one, not an unknown fingerprint."""
    ledger = FindingsLedger(db)
    found = [finding(f"/r{n}") for n in range(3)]
    unclaimed = ledger.reconcile("github:acme", found, rules=[found[0].rule], seen_at=T0).unclaimed
    cid = campaign_id("github:acme", found[0].rule, unclaimed)
    ledger.claim([f.fingerprint for f in found[:2]], cid)
    asked = [f.fingerprint for f in found] + ["sha256:unknown"]
    assert ledger.mark_verified_many(asked, campaign=cid, tenant="github:other") == 0
    assert ledger.mark_verified_many(asked, campaign=cid, tenant="github:acme") == 2
    rows = [ledger.find(f.fingerprint, tenant="github:acme") for f in found]
    assert [r.resolution if r else None for r in rows][:2] == [Resolution.fixed_by_mendflow] * 2
    assert rows[2] is not None and rows[2].resolution is not Resolution.fixed_by_mendflow


def test_a_campaign_that_skipped_a_finding_already_fixed_says_fixed_elsewhere(db: Database) -> None:
    """Settled as resolved without a verified change of its own (a skip): the reason is `fixed elsewhere`."""
    ledger = FindingsLedger(db)
    a, cid = claimed(ledger)
    ledger.settle({a.fingerprint: FindingStatus.resolved}, cid)
    row = ledger.find(a.fingerprint, tenant="github:acme")
    assert row is not None and row.resolution is Resolution.fixed_elsewhere


def test_a_scan_that_reads_a_verified_fix_before_the_campaign_settles_says_fixed_by_mendflow(db: Database) -> None:
    """Verified by its campaign, then read fixed by a scan (campaign still baking): `fixed by mendflow`, kept."""
    ledger = FindingsLedger(db)
    a, cid = claimed(ledger)
    assert not ledger.mark_verified(a.fingerprint, campaign="remediate/other", tenant="github:acme")
    ledger.mark_verified(a.fingerprint, campaign=cid, tenant="github:acme")
    row = ledger.find(a.fingerprint)
    assert row is not None and row.status is FindingStatus.remediating  # the mark alone resolves nothing
    assert ledger.reconcile("github:acme", [], rules=[a.rule], seen_at=T0, read={"/a"}).gone == [a.fingerprint]
    ledger.settle({a.fingerprint: FindingStatus.resolved}, cid)
    row = ledger.find(a.fingerprint)
    assert row is not None and (row.status, row.resolution) == (FindingStatus.resolved, Resolution.fixed_by_mendflow)


def test_a_finding_fixed_by_hand_while_its_campaign_waits_is_fixed_elsewhere(db: Database) -> None:
    """Owned by a campaign awaiting approval, then fixed by a person: the scan says `fixed elsewhere`."""
    ledger = FindingsLedger(db)
    a, _ = claimed(ledger)
    ledger.reconcile("github:acme", [], rules=[a.rule], seen_at=T0, read={"/a"})
    row = ledger.find(a.fingerprint)
    assert row is not None and (row.status, row.resolution) == (FindingStatus.resolved, Resolution.fixed_elsewhere)


def test_a_rolled_back_fix_loses_its_mark(db: Database) -> None:
    """Verified, then rolled back: the finding is not resolved and carries no reason; the next fix starts clean."""
    ledger = FindingsLedger(db)
    a, cid = claimed(ledger)
    ledger.mark_verified(a.fingerprint, campaign=cid, tenant="github:acme")
    ledger.settle({a.fingerprint: FindingStatus.rolled_back}, cid)
    row = ledger.find(a.fingerprint)
    assert row is not None and (row.status, row.resolution) == (FindingStatus.rolled_back, None)
    ledger.reconcile("github:acme", [], rules=[a.rule], seen_at=T0, read={"/a"})
    row = ledger.find(a.fingerprint)
    assert row is not None and row.resolution is Resolution.fixed_elsewhere


def test_rows_written_with_the_old_reason_still_read(db: Database) -> None:
    """A row resolved as plain `fixed` (before the reasons were split) reads back as `fixed elsewhere`."""
    assert Resolution("fixed") is Resolution.fixed_elsewhere


@pytest.mark.parametrize("processes", [3])
def test_concurrent_scans_from_several_processes_record_each_finding_once(database_url: str, processes: int) -> None:
    """Three processes reconciling overlapping findings of one tenant at once: no error, one row per finding."""
    Database.open(database_url).dispose()
    code = """
import sys
from datetime import UTC, datetime
from mendflow.findings.store import FindingsLedger
from mendflow.store import Database
from tests.store.test_ledger import finding
db = Database.open(sys.argv[1])
ledger = FindingsLedger(db)
batch = [finding(f"/r{n}") for n in range(int(sys.argv[2]), int(sys.argv[2]) + 60)]
for _ in range(5):
    ledger.reconcile("github:acme", batch, rules=["other.rule"], seen_at=datetime.now(UTC))
db.dispose()
"""
    procs = [
        subprocess.Popen([sys.executable, "-c", code, database_url, str(k * 30)], stderr=subprocess.PIPE, text=True)
        for k in range(processes)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * processes, errors
    after = Database.open(database_url)
    rows = FindingsLedger(after).rows("github:acme")
    after.dispose()
    assert len(rows) == 120 and len({r.finding.fingerprint for r in rows}) == 120


def test_a_path_opens_a_sqlite_ledger(tmp_path: Path) -> None:
    """The embedded default: a path is a SQLite file there, migrated on open."""
    ledger = FindingsLedger(tmp_path / "ledger.sqlite3")
    ledger.reconcile("github:acme", [finding("/a")], rules=[], seen_at=T0)
    assert (tmp_path / "ledger.sqlite3").exists() and len(ledger.rows("github:acme")) == 1


def test_settling_a_page_records_each_outcome_once_and_leaves_other_campaigns_alone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seven findings settled in one call (statements of two, as a page is in chunks): each gets its own status and
    one event; a finding the campaign does not own keeps its status."""
    monkeypatch.setattr("mendflow.findings.store.SETTLE_CHUNK", 2)
    ledger = FindingsLedger(db)
    found = [finding(f"/r{i}") for i in range(8)]
    ledger.reconcile("github:acme", found, rules=[found[0].rule], seen_at=T0)
    cid = "remediate/page"
    mine, other = found[:7], found[7]
    assert sorted(ledger.claim([f.fingerprint for f in mine], cid)) == sorted(f.fingerprint for f in mine)
    ledger.claim([other.fingerprint], "remediate/other")
    wanted = [FindingStatus.resolved] * 3 + [FindingStatus.failed] * 2 + [FindingStatus.open, FindingStatus.rolled_back]
    outcomes = {f.fingerprint: s for f, s in zip(mine, wanted, strict=True)}
    ledger.settle(outcomes | {other.fingerprint: FindingStatus.resolved}, cid)
    for f, status in zip(mine, wanted, strict=True):
        row = ledger.find(f.fingerprint)
        assert row is not None and row.status is status
        assert row.campaign == (None if status is FindingStatus.open else cid)
        settled = [e for e in ledger.history("github:acme", f.fingerprint) if "settled" in e[2]]
        assert [e[1] for e in settled] == [status]
    row = ledger.find(other.fingerprint)
    assert row is not None and row.status is FindingStatus.remediating and row.campaign == "remediate/other"


def test_claiming_in_chunks_takes_exactly_the_unowned_findings_in_the_order_asked(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seven findings claimed in statements of two: those another campaign or tenant holds are left alone, the rest
    are claimed and listed in the order asked; asking again is idempotent."""
    monkeypatch.setattr("mendflow.findings.store.SETTLE_CHUNK", 2)
    ledger = FindingsLedger(db)
    found = [finding(f"/r{i}") for i in range(7)]
    ledger.reconcile("github:acme", found, rules=[found[0].rule], seen_at=T0)
    ledger.reconcile("github:other", found[:1], rules=[found[0].rule], seen_at=T0)
    assert ledger.claim([found[3].fingerprint], "remediate/other", tenant="github:acme") == [found[3].fingerprint]
    asked = [f.fingerprint for f in reversed(found)]
    expected = [fp for fp in asked if fp != found[3].fingerprint]
    assert ledger.claim(asked, "remediate/page", tenant="github:acme") == expected
    assert ledger.claim(asked, "remediate/page", tenant="github:acme") == expected
    owners = {row.finding.fingerprint: row.campaign for row in ledger.rows("github:acme")}
    assert owners == {f.fingerprint: "remediate/other" if f is found[3] else "remediate/page" for f in found}
    assert [row.campaign for row in ledger.rows("github:other")] == [None]


def test_a_rescan_offers_only_its_own_unowned_findings_to_campaigns(db: Database) -> None:
    """After a full scan of 600 (more than one statement's worth), some claimed: a rescan of three resources offers
    exactly its unowned open findings, not the tenant's other open ones nor a claimed one."""
    ledger = FindingsLedger(db)
    found = [finding(f"/r{i:03}") for i in range(600)]
    ledger.reconcile("github:acme", found, rules=[found[0].rule], seen_at=T0)
    ledger.claim([found[1].fingerprint], "remediate/one", tenant="github:acme")
    rescanned = [found[599], found[0], found[1]]
    again = ledger.reconcile(
        "github:acme", rescanned, rules=[found[0].rule], seen_at=T0 + timedelta(hours=1),
        read={f.resource.id for f in rescanned}, complete=False,
    )  # fmt: skip
    assert [row.finding.fingerprint for row in again.unclaimed] == [found[0].fingerprint, found[599].fingerprint]
    assert all(row.status is FindingStatus.open and row.campaign is None for row in again.unclaimed)


def test_unclaimed_rows_carry_the_scans_own_findings_not_copies_read_back(db: Database) -> None:
    """A 10,000-finding scan would hold every finding twice: unclaimed rows hold the very findings reconciled (new,
    still open with newer evidence), with the ledger's own dates and status beside them."""
    ledger = FindingsLedger(db)
    a, b = finding("/a"), finding("/b")
    ledger.reconcile("github:acme", [a], rules=[a.rule], seen_at=T0)
    newer = a.model_copy(update={"evidence": {"config.insecure_ssl": "1", "seen": "again"}})
    later = T0 + timedelta(hours=1)
    again = ledger.reconcile("github:acme", [newer, b], rules=[a.rule], seen_at=later)
    by_fp = {row.finding.fingerprint: row for row in again.unclaimed}
    assert by_fp[a.fingerprint].finding is newer and by_fp[b.fingerprint].finding is b
    assert (by_fp[a.fingerprint].first_seen, by_fp[a.fingerprint].last_seen) == (T0, later)
    assert by_fp[b.fingerprint].first_seen == later and by_fp[b.fingerprint].tenant == "github:acme"
    assert all(row.status is FindingStatus.open and row.campaign is None for row in again.unclaimed)
    stored = ledger.find(a.fingerprint, tenant="github:acme")
    assert stored is not None and stored.finding == newer


def test_a_scan_written_in_chunks_records_what_one_statement_each_did(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With chunks of two, a scan of new, still-open (newer body), regressed and gone findings ends as one write
    would leave it: statuses, bodies, and each finding's history in order."""
    monkeypatch.setattr("mendflow.findings.store.SETTLE_CHUNK", 2)
    ledger = FindingsLedger(db)
    found = [finding(f"/r{i}") for i in range(7)]
    rule = found[0].rule
    ledger.reconcile("github:acme", found[:5], rules=[rule], seen_at=T0)
    ledger.reconcile("github:acme", found[1:5], rules=[rule], seen_at=T0 + timedelta(hours=1))  # /r0 resolves
    newer = [f.model_copy(update={"evidence": {"n": i}}) for i, f in enumerate(found)]
    later = T0 + timedelta(hours=2)
    scan = [newer[0], newer[1], newer[2], newer[5], newer[6]]  # /r3 and /r4 gone, /r0 back, /r5 and /r6 new
    out = ledger.reconcile("github:acme", scan, rules=[rule], seen_at=later, read={f.resource.id for f in found})
    fp = [f.fingerprint for f in found]
    assert (out.new, out.regressed) == (sorted([fp[0], fp[5], fp[6]]), [fp[0]])
    assert (out.still_open, out.gone) == (sorted([fp[1], fp[2]]), sorted([fp[3], fp[4]]))
    rows = {row.finding.fingerprint: row for row in ledger.rows("github:acme")}
    assert [rows[f].status for f in fp] == [FindingStatus.regressed] + [FindingStatus.open] * 2 + [
        FindingStatus.resolved
    ] * 2 + [FindingStatus.open] * 2
    assert all(rows[f.fingerprint].finding == f for f in scan)
    assert [s for _, s, _ in ledger.history("github:acme", fp[0])] == [
        FindingStatus.open,
        FindingStatus.resolved,
        FindingStatus.regressed,
    ]
    assert [s for _, s, _ in ledger.history("github:acme", fp[3])] == [FindingStatus.open, FindingStatus.resolved]
    assert {row.finding.fingerprint for row in out.unclaimed} == {fp[0], fp[1], fp[2], fp[5], fp[6]}
