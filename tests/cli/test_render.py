"""Tables people copy from: ids whole, free text shortened in the middle, one timestamp format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from mendflow.render import table, timestamp

CAMPAIGN = "remediate/github:acme/github.repo.default_branch_insufficient_approvals/eaf4c19a217d2f18"


def test_ids_are_never_cut_in_the_middle() -> None:
    """A campaign id or resource path longer than its column is printed whole."""
    shown = table(
        ["id", "resource"], [[CAMPAIGN, "/repos/acme/a-very-long-repository-name/hooks/123456"]], max_width=[20, 20]
    )
    row = shown.splitlines()[2]
    assert CAMPAIGN in row and "/repos/acme/a-very-long-repository-name/hooks/123456" in row and "…" not in row


def test_free_text_is_shortened_in_the_middle() -> None:
    """Evidence with spaces past its column keeps both ends and marks the cut."""
    text = "resource.archived=false, related.default_branch_rulesets=[], related.protection=null"
    row = table(["evidence"], [[text]], max_width=[30]).splitlines()[2]
    assert len(row) == 30 and row.startswith("resource.archi") and row.endswith("ection=null") and "…" in row


def test_timestamps_have_one_format_whatever_the_zone() -> None:
    """UTC, whole seconds, Z — the same text JSON output carries."""
    moment = datetime(2026, 11, 20, 1, 2, 3, 456789, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(moment) == "2026-11-19T23:02:03Z"
    assert timestamp(datetime(2026, 11, 20, tzinfo=UTC)) == "2026-11-20T00:00:00Z"
    assert timestamp(datetime(2026, 11, 20)) == "2026-11-20T00:00:00Z"
