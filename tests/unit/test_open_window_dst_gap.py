"""`ChangePolicy.open_until` for a freeze whose start falls in a daylight-saving gap (review of a8ea5c5)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from mendflow.campaigns.windows import ChangePolicy, FreezeWindow

# Berlin's clocks jump from 02:00 CET to 03:00 CEST on Sunday 29 March 2026 (01:00 UTC). A Sunday freeze from 02:30
# local time is in force from the jump: 03:00 CEST >= 02:30 (`FreezeWindow.contains` compares local wall times).
GAP_FREEZE = FreezeWindow(days=("sun",), start=time(2, 30), end=time(5, 0), tz="Europe/Berlin")
JUMP = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


@pytest.mark.xfail(
    strict=True,
    reason="src/mendflow/campaigns/windows.py ChangePolicy.open_until: datetime.combine(day, 02:30, Berlin) is a "
    "nonexistent local time; zoneinfo reads it with the CET offset (01:30 UTC), while the freeze is in force from "
    "01:00 UTC (frozen_until says so): the open verdict overruns the freeze's start by up to the recheck minute",
)
def test_an_open_verdict_ends_when_a_freeze_starting_in_a_dst_gap_begins() -> None:
    """At 00:59:30 UTC writes are allowed; the verdict must not hold past 01:00 UTC, when the freeze begins."""
    policy = ChangePolicy(freeze=(GAP_FREEZE,))
    moment = JUMP - timedelta(seconds=30)
    assert policy.frozen_until(moment) is None and policy.frozen_until(JUMP) is not None
    assert policy.open_until(moment) <= JUMP
