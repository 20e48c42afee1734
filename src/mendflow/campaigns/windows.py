"""Change windows: freeze periods in which no rollout writes, evaluated in the window's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
RECHECK = MINUTE
"""How long a campaign trusts an open verdict without asking again (at most: up to the next freeze's start). The
policy is the worker's configuration: a freeze added by restarting workers with a new one applies within this."""


def _past_minute(moment: datetime) -> timedelta:
    """How far `moment` is past its last whole minute."""
    return timedelta(seconds=moment.second, microseconds=moment.microsecond)


class FreezeWindow(BaseModel):
    """`{days: [fri], start: "16:00", end: "23:59", tz: Europe/Berlin}`: no writes on Fridays after 16:00."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: tuple[str, ...] = DAYS
    start: time = time(0, 0)
    end: time = time(23, 59, 59)
    tz: str = "UTC"

    def starts_between(self, after: datetime, before: datetime) -> list[datetime]:
        """The instants this window's start wall time occurs strictly between `after` and `before`: each day's, and
        twice on a day whose clocks go back through it (a skipped one lands at the clock change or after it)."""
        zone = ZoneInfo(self.tz)
        first_day = after.astimezone(zone).date()
        starts = []
        for offset in range((before - after).days + 2):
            day = first_day + timedelta(days=offset)
            if DAYS[day.weekday()] in self.days:
                for fold in (0, 1):
                    start = datetime.combine(day, self.start, tzinfo=zone).replace(fold=fold).astimezone(UTC)
                    if after < start < before:
                        starts.append(start)
        return starts

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.tz))
        return DAYS[local.weekday()] in self.days and self.start <= local.time() <= self.end


class ChangePolicy(BaseModel):
    """The `changes:` section of mendflow's config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    freeze: tuple[FreezeWindow, ...] = ()
    writes_per_minute: dict[str, int] = Field(default_factory=dict)
    """Per tenant key; tenants not listed use `default_writes_per_minute`."""
    default_writes_per_minute: int = 60
    concurrency: dict[str, int] = Field(default_factory=dict)
    """Per tenant key: targets a campaign changes at once within a batch; tenants not listed use
    `default_concurrency`. The write budget still paces every write, and rollback stays newest first."""
    default_concurrency: int = Field(default=4, ge=1, le=64)

    def frozen_until(self, moment: datetime) -> datetime | None:
        """None if writes are allowed at `moment`, else the first minute at which no freeze applies."""
        probe = moment
        for _ in range(60 * 24 * 8):  # a week and a day, minute by minute: windows are coarse
            if not any(w.contains(probe) for w in self.freeze):
                return None if probe == moment else probe
            probe = (probe + timedelta(minutes=1)).replace(second=0, microsecond=0)
        return probe

    def open_until(self, moment: datetime, horizon: timedelta = RECHECK) -> datetime:
        """For a `moment` at which writes are allowed: when the next freeze begins, or `moment + horizon` if none
        begins sooner. Exact to the second in each window's own time zone, daylight saving included: a start in a
        skipped hour begins at the clock change, and one in a repeated hour begins at each of its two passes."""
        end = moment + horizon
        marks = {moment + timedelta(minutes=m) - _past_minute(moment) for m in range(1, horizon // MINUTE + 2)}
        for window in self.freeze:
            marks.update(window.starts_between(moment, end))
        earlier = moment
        for mark in sorted(m for m in marks if moment < m < end):
            if self._frozen(mark):
                while mark - SECOND > earlier and self._frozen(mark - SECOND):  # the freeze began before the mark
                    mark -= SECOND
                return mark
            earlier = mark
        return end

    def _frozen(self, moment: datetime) -> bool:
        return any(w.contains(moment) for w in self.freeze)

    def budget_for(self, tenant_key: str) -> int:
        return self.writes_per_minute.get(tenant_key, self.default_writes_per_minute)

    def concurrency_for(self, tenant_key: str) -> int:
        return max(1, self.concurrency.get(tenant_key, self.default_concurrency))
