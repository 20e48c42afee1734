"""Timestamps and durations as text (RFC 3339, Go-style `1h30m`) and as calendar fields in a time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mendflow.rules.values import DURATION_MAX, NANOS, TIMESTAMP_MAX, TIMESTAMP_MIN, CelError, Timestamp

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d\d):(\d\d))", re.ASCII
)
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)", re.ASCII)
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": NANOS,
    "m": 60 * NANOS,
    "h": 3600 * NANOS,
}
_OFFSET = re.compile(r"([+-]?)(\d\d):(\d\d)", re.ASCII)


CACHE_SIZE = 4096
"""Parsed timestamps kept per text. Vendors repeat timestamps (policy dates, day-resolution logins), and a scan
evaluates several rules on one field; the cache is emptied when full, so memory stays bounded."""
_cache: dict[str, Timestamp] = {}


def timestamp_of(text: str) -> Timestamp:
    """`timestamp(text)` for a string, cached per text (only successes are cached: a bad text raises each time)."""
    found = _cache.get(text)
    if found is None:
        found = Timestamp(parse_timestamp(text))
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()
        _cache[text] = found
    return found


def clear_cache() -> None:
    """Forget every parsed timestamp (benchmarks start each pass cold)."""
    _cache.clear()


def parse_timestamp(text: str) -> int:
    """RFC 3339 text → nanoseconds since the epoch; CelError if malformed or outside year 1 … 9999.

    The common shapes (upper-case `T`, `Z` or `±HH:MM`, up to 6 fraction digits) are read by the C parser
    `datetime.fromisoformat` once their layout is checked; anything else, and anything it refuses, is read by
    `_parse_exact`, which decides validity and error messages, so both paths give the same answer."""
    ns = _parse_common(text)
    return _parse_exact(text) if ns is None else ns


def _parse_common(text: str) -> int | None:
    """Nanoseconds for the common shapes, or None to let `_parse_exact` decide. The separators are checked here;
    fromisoformat checks that the fields between them are ASCII digits and in range."""
    size = len(text)
    if size < 20 or text[4:17:3] != "--T::" or not text.isascii():  # the separators at 4, 7, 10, 13 and 16
        return None
    if text[-1] == "Z":
        end = size - 1
    elif text[-3] == ":" and text[-6] in "+-":
        end = size - 6
    else:
        return None
    # fromisoformat would also take other layouts after the seconds (`,5`, `+0100`, `+01:00:30`): only an empty
    # fraction or `.` with 1 to 6 digits passes here (7 to 9 digits need the exact reader's nanoseconds).
    if end != 19 and not (21 <= end <= 26 and text[19] == "." and text[20:end].isdigit()):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:  # e.g. 2024-02-30, hour 24, an offset of 24 hours or more
        return None
    since = moment - _EPOCH_UTC
    ns = ((since.days * 86400 + since.seconds) * 1_000_000 + since.microseconds) * 1000
    return ns if TIMESTAMP_MIN <= ns <= TIMESTAMP_MAX else None


def _parse_exact(text: str) -> int:
    """RFC 3339 by the grammar, field by field (every shape CEL accepts, and CEL's errors)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise CelError(f"invalid timestamp {text!r}")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    try:
        days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise CelError(f"timestamp out of range or invalid: {text!r}") from None
    if int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        raise CelError(f"invalid timestamp {text!r}")
    seconds = days * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second)
    if sign:
        offset = int(off_h) * 3600 + int(off_m) * 60
        seconds += -offset if sign == "+" else offset
    ns = seconds * NANOS + (int(fraction.ljust(9, "0")) if fraction else 0)
    if not TIMESTAMP_MIN <= ns <= TIMESTAMP_MAX:
        raise CelError(f"timestamp out of range: {text!r}")
    return ns


def format_timestamp(ns: int) -> str:
    """RFC 3339 in UTC with the fraction trimmed: `2009-02-13T23:31:30Z`, `…:59.999999999Z`."""
    seconds, nanos = divmod(ns, NANOS)
    text = (_EPOCH + timedelta(seconds=seconds)).isoformat()
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


def parse_duration(text: str) -> int:
    """Go-style duration text (`1h30m`, `-1.5s`, `100ns`, `0`) → nanoseconds; CelError if malformed."""
    body = text
    negative = body[:1] == "-"
    if body[:1] in "+-":
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        raise CelError(f"invalid duration {text!r}")
    total = 0
    position = 0
    while position < len(body):
        part = _DURATION_PART.match(body, position)
        if part is None or (not part.group(1) and not part.group(2)):
            raise CelError(f"invalid duration {text!r}")
        whole, fraction, unit = part.groups()
        scale = _UNITS[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        position = part.end()
    ns = -total if negative else total
    if abs(ns) > DURATION_MAX:
        raise CelError(f"duration out of range: {text!r}")
    return ns


def format_duration(ns: int) -> str:
    """Seconds with the fraction trimmed: `1000000s`, `1.5s`, `-0.000000001s`."""
    sign = "-" if ns < 0 else ""
    seconds, nanos = divmod(abs(ns), NANOS)
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{sign}{seconds}{fraction}s"


def zone(name: str | None) -> tzinfo:
    """`None`/`UTC`, a fixed offset (`+11:00`, `-02:30`, `02:00`) or an IANA zone name."""
    if name is None or name == "UTC":
        return UTC
    offset = _OFFSET.fullmatch(name)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CelError(f"unknown time zone {name!r}") from None


def local_time(ns: int, zone_name: str | None) -> datetime:
    """The wall-clock time of a timestamp in a zone."""
    moment = (_EPOCH + timedelta(seconds=ns // NANOS)).replace(tzinfo=UTC)
    try:
        return moment.astimezone(zone(zone_name))
    except OverflowError:
        raise CelError("timestamp out of range in that time zone") from None


def timestamp_field(ns: int, field: str, zone_name: str | None) -> int:
    """getFullYear, getMonth (0-based), getDate (1-based), getDayOfMonth (0-based), getDayOfWeek (0 = Sunday),
    getDayOfYear (0-based), getHours, getMinutes, getSeconds, getMilliseconds."""
    if field == "getMilliseconds":
        return (ns % NANOS) // 1_000_000
    moment = local_time(ns, zone_name)
    if field == "getFullYear":
        return moment.year
    if field == "getMonth":
        return moment.month - 1
    if field == "getDate":
        return moment.day
    if field == "getDayOfMonth":
        return moment.day - 1
    if field == "getDayOfWeek":
        return (moment.weekday() + 1) % 7
    if field == "getDayOfYear":
        return moment.timetuple().tm_yday - 1
    if field == "getHours":
        return moment.hour
    if field == "getMinutes":
        return moment.minute
    if field == "getSeconds":
        return moment.second
    raise CelError(f"no such function: timestamp.{field}")


def duration_field(ns: int, field: str) -> int:
    """getHours/getMinutes/getSeconds: the whole duration in that unit; getMilliseconds: the millisecond part."""
    units = {"getHours": 3600 * NANOS, "getMinutes": 60 * NANOS, "getSeconds": NANOS}
    if field in units:
        return _truncate(ns, units[field])
    if field == "getMilliseconds":
        return _truncate(ns, 1_000_000) - _truncate(ns, NANOS) * 1000
    raise CelError(f"no such function: duration.{field}")


def _truncate(value: int, unit: int) -> int:
    quotient = abs(value) // unit
    return -quotient if value < 0 else quotient
