"""Change windows: `frozen_until` (how long a freeze holds) and `open_until` (how long an open verdict holds, so a
campaign need not ask before every batch), in the windows' own time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from mendflow.campaigns.windows import RECHECK, ChangePolicy, FreezeWindow

BERLIN_FRIDAYS = FreezeWindow(days=("fri",), start=time(16, 0), end=time(23, 59), tz="Europe/Berlin")
NEW_YORK_NIGHTS = FreezeWindow(start=time(22, 30), end=time(23, 59), tz="America/New_York")


def _never_frozen_between(policy: ChangePolicy, start: datetime, end: datetime) -> bool:
    probe = start
    while probe < end:
        if any(w.contains(probe) for w in policy.freeze):
            return False
        probe += timedelta(seconds=10)
    return True


def test_with_no_window_an_open_verdict_holds_for_the_recheck_interval() -> None:
    moment = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert ChangePolicy().open_until(moment) == moment + RECHECK


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Friday 4 December 2026, 14:59:30 UTC = 15:59:30 in Berlin (CET): the freeze starts in 30 s.
        (datetime(2026, 12, 4, 14, 59, 30, tzinfo=UTC), datetime(2026, 12, 4, 15, 0, tzinfo=UTC)),
        # Thursday at the same hour: no Friday freeze within the minute.
        (datetime(2026, 12, 3, 14, 59, 30, tzinfo=UTC), datetime(2026, 12, 3, 15, 0, 30, tzinfo=UTC)),
        # Friday 26 June 2026 (CEST, UTC+2): 16:00 in Berlin is 14:00 UTC.
        (datetime(2026, 6, 26, 13, 59, 45, tzinfo=UTC), datetime(2026, 6, 26, 14, 0, tzinfo=UTC)),
        # 22:29:50 in New York on the day daylight saving ends (1 November 2026, EST from 06:00 UTC): 03:30 UTC
        # the next day.
        (datetime(2026, 11, 2, 3, 29, 50, tzinfo=UTC), datetime(2026, 11, 2, 3, 30, tzinfo=UTC)),
    ],
)
def test_an_open_verdict_ends_exactly_when_the_next_freeze_starts(moment: datetime, expected: datetime) -> None:
    policy = ChangePolicy(freeze=(BERLIN_FRIDAYS, NEW_YORK_NIGHTS))
    assert policy.frozen_until(moment) is None
    until = policy.open_until(moment)
    assert until == expected
    assert _never_frozen_between(policy, moment, until)
    if until < moment + RECHECK:
        assert policy.frozen_until(until) is not None


def test_a_longer_horizon_finds_a_freeze_on_a_later_day() -> None:
    thursday_noon = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    policy = ChangePolicy(freeze=(BERLIN_FRIDAYS,))
    assert policy.open_until(thursday_noon, timedelta(days=3)) == datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
