"""Change windows: freeze periods in which no rollout writes, evaluated in the window's own time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RECHECK = timedelta(minutes=1)
"""How long a campaign trusts an open verdict without asking again (at most: up to the next freeze's start). The
policy is the worker's configuration: a freeze added by restarting workers with a new one applies within this."""


class FreezeWindow(BaseModel):
    """`{days: [fri], start: "16:00", end: "23:59", tz: Europe/Berlin}`: no writes on Fridays after 16:00."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: tuple[str, ...] = DAYS
    start: time = time(0, 0)
    end: time = time(23, 59, 59)
    tz: str = "UTC"

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
        """For a `moment` at which writes are allowed: the next start of a freeze window, or `moment + horizon` if
        none starts sooner. Exact to the window's start (each window's own time zone, daylight saving included)."""
        end = moment + horizon
        for window in self.freeze:
            zone = ZoneInfo(window.tz)
            first_day = moment.astimezone(zone).date()
            for offset in range(horizon.days + 2):
                day = first_day + timedelta(days=offset)
                start = datetime.combine(day, window.start, tzinfo=zone)
                if DAYS[day.weekday()] in window.days and moment < start < end:
                    end = start
        return end

    def budget_for(self, tenant_key: str) -> int:
        return self.writes_per_minute.get(tenant_key, self.default_writes_per_minute)

    def concurrency_for(self, tenant_key: str) -> int:
        return max(1, self.concurrency.get(tenant_key, self.default_concurrency))
