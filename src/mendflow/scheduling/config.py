"""The `schedules:` section of mendflow.yaml: which tenants are scanned periodically, how often, with what jitter.

schedules:
  - tenant: github:acme      # a tenant key the workers know
    interval: 1h             # 90s, 15m, 1h, 1d, 1h30m (at least 1m: a full scan is not free)
    jitter: 5m               # random delay added to each run, so tenants do not all start at :00
    paused: false            # `mendflow schedules apply` sets this state (config wins over a manual pause)
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

MIN_INTERVAL = timedelta(minutes=1)
_PART = re.compile(r"(\d+)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """`90s`, `15m`, `1h`, `1d`, `1h30m`, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 1h or 1d")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    text = str(value).strip().replace(" ", "")
    if not text or _PART.sub("", text):
        raise ValueError("expected a duration such as 90s, 15m, 1h, 1d or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNIT[u] for n, u in _PART.findall(text)))


def format_duration(value: timedelta) -> str:
    """The shortest `1h30m`-style text for a whole number of seconds (`0s` for none)."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]


class ScanSchedule(BaseModel):
    """One tenant's periodic full scan."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    tenant: str = Field(min_length=1, max_length=200, pattern=r"^[a-z]+:[^\s/]+$")
    """Tenant key (`github:acme`, `okta:acme.okta.com`)."""
    interval: Duration
    """Time between scans (at least 1m)."""
    jitter: Duration = timedelta(0)
    """Up to this much random delay added to each run (less than the interval)."""
    paused: bool = False

    @model_validator(mode="after")
    def _sane(self) -> Self:
        if self.interval < MIN_INTERVAL:
            raise ValueError(
                f"interval {format_duration(self.interval)} is shorter than {format_duration(MIN_INTERVAL)}"
            )
        if self.jitter >= self.interval:
            raise ValueError("jitter must be shorter than the interval")
        return self


def unique_tenants(schedules: tuple[ScanSchedule, ...]) -> tuple[ScanSchedule, ...]:
    """A tenant has one schedule (two would scan it twice as often as either says)."""
    seen: set[str] = set()
    for item in schedules:
        if item.tenant in seen:
            raise ValueError(f"tenant {item.tenant} has more than one schedule")
        seen.add(item.tenant)
    return schedules


__all__ = ["MIN_INTERVAL", "Duration", "ScanSchedule", "format_duration", "parse_duration", "unique_tenants"]
