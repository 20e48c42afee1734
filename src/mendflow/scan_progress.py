"""Progress of a long collection: what the collect activity reports as heartbeat details, and the one line
`mendflow scan --tenant` redraws on a terminal (resources per collection, requests, time waiting on rate limits).

The activity's `ProgressMeter` counts resources as they stream and reports at most once per `every` seconds, also
while the HTTP layer waits on a rate limit (it is the waiter of `heartbeat_while_waiting`), so a scan stuck in a
vendor's window still says so. The CLI reads the latest report from the workflow's pending activity; the worker
sends heartbeats often enough for that (`runtime/worker.HEARTBEAT_THROTTLE`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class ScanProgress(BaseModel):
    """A collection so far (the collect activity's heartbeat details)."""

    model_config = ConfigDict(extra="ignore")

    resources: dict[str, int] = Field(default_factory=dict)
    """Resources collected per type (`okta.user`: 12000), in the order their collections were first read."""
    requests: int = 0
    """Vendor API requests made so far (retries included)."""
    waited_seconds: float = 0.0
    """Time spent waiting on vendor rate limits so far (pacing ahead of them and waits the vendor asked for)."""

    def line(self) -> str:
        """`collecting: 1,000 okta.user · 4 okta.policy | 126 requests | 12 s waiting on rate limits`."""
        counts = " · ".join(f"{n:,} {kind}" for kind, n in self.resources.items()) or "starting"
        return (
            f"collecting: {counts} | {self.requests:,} requests | {self.waited_seconds:,.0f} s waiting on rate limits"
        )


class Counters(Protocol):
    """What the meter reads from the HTTP client (`connectors.http.VendorHttp`)."""

    @property
    def requests_made(self) -> int: ...

    @property
    def rate_waited_seconds(self) -> float: ...


class ProgressMeter:
    """Counts a collection's resources and reports `ScanProgress` at most once per `every` seconds."""

    def __init__(
        self,
        http: Counters,
        report: Callable[[ScanProgress], None],
        *,
        every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.report = report
        self.every = every
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self._last: float | None = None

    def add(self, resource_type: str) -> None:
        """One more resource of `resource_type` collected."""
        self.counts[resource_type] += 1
        self.tick()

    def tick(self, _seconds_left: float = 0.0) -> None:
        """Report if the last report is `every` seconds old (also the HTTP layer's waiter during waits)."""
        now = self.clock()
        if self._last is None or now - self._last >= self.every:
            self._last = now
            self.report(self.snapshot())

    def snapshot(self) -> ScanProgress:
        return ScanProgress(
            resources=dict(self.counts), requests=self.http.requests_made, waited_seconds=self.http.rate_waited_seconds
        )
