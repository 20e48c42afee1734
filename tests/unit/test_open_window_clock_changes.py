"""`ChangePolicy.open_until` for a freeze whose start is a wall time daylight saving skips or repeats (review of
a8ea5c5). `FreezeWindow.contains` compares local wall times, so such a freeze is in force from the clock change
(skipped hour) or a second time in the repeated hour; an open verdict must end when it starts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from mendflow.campaigns.windows import ChangePolicy, FreezeWindow

# Berlin's clocks jump from 02:00 CET to 03:00 CEST on Sunday 29 March 2026 (01:00 UTC): a Sunday freeze from 02:30
# is in force from the jump (03:00 CEST >= 02:30).
SKIPPED = FreezeWindow(days=("sun",), start=time(2, 30), end=time(5, 0), tz="Europe/Berlin")
SKIPPED_STARTS = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
# New York's clocks go back from 02:00 EDT to 01:00 EST on Sunday 1 November 2026 (06:00 UTC): a Sunday freeze
# 01:30-01:45 is in force twice, from 05:30 UTC (EDT) and again from 06:30 UTC (EST).
REPEATED = FreezeWindow(days=("sun",), start=time(1, 30), end=time(1, 45), tz="America/New_York")
REPEATED_STARTS_AGAIN = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "starts"), [(SKIPPED, SKIPPED_STARTS), (REPEATED, REPEATED_STARTS_AGAIN)], ids=["skipped", "repeated"]
)
def test_an_open_verdict_ends_when_a_freeze_starting_at_a_clock_change_begins(
    window: FreezeWindow, starts: datetime
) -> None:
    """30 s before the freeze is in force writes are allowed; the verdict must not hold past its start."""
    policy = ChangePolicy(freeze=(window,))
    moment = starts - timedelta(seconds=30)
    assert policy.frozen_until(moment) is None and policy.frozen_until(starts) is not None
    assert policy.open_until(moment) <= starts
