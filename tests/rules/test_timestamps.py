"""timestamp(): every RFC 3339 shape reads to the right instant through the fast reader, invalid text fails
with the exact reader's error, parsed timestamps are cached per text, and rules on Okta-style times decide right."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from mendflow.rules import compile_condition, timefmt
from mendflow.rules.cel import timestamp
from mendflow.rules.program import ERROR, batch_binder
from mendflow.rules.values import CelError

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant(*fields: int, nanos: int = 0, offset_minutes: int = 0) -> int:
    """Nanoseconds since the epoch of a wall-clock time at a UTC offset, computed without the reader under test."""
    seconds = (datetime(*fields, tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
    return (seconds - offset_minutes * 60) * 1_000_000_000 + nanos


SHAPES = [
    ("2026-11-03T23:00:00Z", instant(2026, 11, 3, 23)),
    ("2026-11-03T23:00:00.000Z", instant(2026, 11, 3, 23)),
    ("2026-11-03t23:00:00z", instant(2026, 11, 3, 23)),
    ("2026-11-03T23:00:00+00:00", instant(2026, 11, 3, 23)),
    ("2026-11-03T23:00:00-00:00", instant(2026, 11, 3, 23)),
    ("2026-11-03T23:00:00+05:30", instant(2026, 11, 3, 23, offset_minutes=330)),
    ("2026-11-03T23:00:00-08:00", instant(2026, 11, 3, 23, offset_minutes=-480)),
    ("2026-11-03T23:00:00.250-08:00", instant(2026, 11, 3, 23, nanos=250_000_000, offset_minutes=-480)),
    ("2026-11-03T23:00:00.123456789+05:30", instant(2026, 11, 3, 23, nanos=123_456_789, offset_minutes=330)),
    ("2026-11-03T23:00:00+24:00", instant(2026, 11, 2, 23)),  # CEL's grammar takes any two-digit offset
    ("2024-02-29T12:34:56.5Z", instant(2024, 2, 29, 12, 34, 56, nanos=500_000_000)),
    ("1969-12-31T23:59:59.999999999Z", -1),
    ("0001-01-01T00:00:00Z", instant(1, 1, 1)),
    ("0001-01-01T00:00:00-00:01", instant(1, 1, 1, 0, 1)),
    ("9999-12-31T23:59:59.999999999Z", instant(9999, 12, 31, 23, 59, 59, nanos=999_999_999)),
    *[
        (f"2026-11-03T23:00:00.{'7' * n}Z", instant(2026, 11, 3, 23, nanos=int(("7" * n).ljust(9, "0"))))
        for n in range(1, 10)
    ],
]

INVALID = [
    "",
    "yesterday",
    "2026-11-03",
    "2026-11-03T23:00:00",
    "2026-11-03 23:00:00Z",
    "2026-11-03T23:00Z",
    "20261103T230000Z",
    "2026-11-03T24:00:00Z",
    "2026-11-03T23:60:00Z",
    "2026-11-03T23:00:60Z",
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2026-11-03T23:00:00.Z",
    "2026-11-03T23:00:00.1234567890Z",
    "2026-11-03T23:00:00,5Z",
    "2026-11-03T23:00:00+0100",
    "2026-11-03T23:00:00+01",
    "2026-11-03T23:00:00+01:00:30",
    "2026-11-03T23:00:00.5+01:00:30",
    "2026-11-03T23:00:00Z ",
    "+2026-11-03T23:00:00Z",
    "\u0662\u0660\u0662\u0666-11-03T23:00:00Z",
    "2026-11-03T23:00:00.\u0663Z",
    "2026-11-03T23:00:00+\u0660\u0661:00",
    "0001-01-01T00:00:00+00:01",
    "9999-12-31T23:59:59-00:01",
]


@pytest.mark.parametrize(("text", "expected"), SHAPES)
def test_every_rfc3339_shape_reads_to_its_instant(text: str, expected: int) -> None:
    """Z, lower-case t/z, offsets, fractions of 1 to 9 digits and both ends of the range read exactly."""
    assert timefmt.parse_timestamp(text) == expected
    assert timefmt.timestamp_of(text).ns == expected


@pytest.mark.parametrize("text", INVALID)
def test_invalid_text_fails_with_the_exact_readers_error(text: str) -> None:
    """Anything outside RFC 3339 or the year 1 … 9999 fails, with the message the exact reader gives."""
    with pytest.raises(CelError) as exact:
        timefmt._parse_exact(text)
    with pytest.raises(CelError) as fast:
        timefmt.parse_timestamp(text)
    assert str(fast.value) == str(exact.value)
    assert repr(text) in str(fast.value)


def test_fast_reader_agrees_with_the_exact_reader_on_mutated_text() -> None:
    """Random edits of valid timestamps give the same instant or the same error through both readers."""
    rng = random.Random(14)
    pool = "0123456789-:.+,TtZz \u0663"
    seeds = [text for text, _ in SHAPES]
    checked = 0
    for _ in range(6_000):
        text = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            where = rng.randrange(len(text) + 1)
            edit = rng.random()
            if edit < 0.6 and where < len(text):
                text[where] = rng.choice(pool)
            elif edit < 0.8:
                text.insert(where, rng.choice(pool))
            elif where < len(text):
                del text[where]
        candidate = "".join(text)
        outcomes = []
        for reader in (timefmt.parse_timestamp, timefmt._parse_exact):
            try:
                outcomes.append(reader(candidate))
            except CelError as err:
                outcomes.append(str(err))
        assert outcomes[0] == outcomes[1], candidate
        checked += isinstance(outcomes[0], int)
    assert checked > 500  # enough of the edits stayed valid to exercise the fast path


def test_parsed_timestamps_are_cached_per_text_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text parsed once is served from the cache; a bad text fails every time; the cache never outgrows its size."""
    timefmt.clear_cache()
    first = timefmt.timestamp_of("2026-11-03T23:00:00.000Z")
    assert timefmt.timestamp_of("2026-11-03T23:00:00.000Z") is first
    for _ in range(2):
        with pytest.raises(CelError, match="invalid timestamp"):
            timefmt.timestamp_of("2026-11-03")
    monkeypatch.setattr(timefmt, "CACHE_SIZE", 3)
    for day in range(1, 10):
        timefmt.timestamp_of(f"2026-11-{day:02d}T00:00:00Z")
        assert len(timefmt._cache) <= 3
    timefmt.clear_cache()
    assert timefmt.timestamp_of("2026-11-03T23:00:00.000Z") is not first
    assert timefmt.timestamp_of("2026-11-03T23:00:00.000Z") == first


def test_rule_on_okta_style_times_decides_at_the_millisecond() -> None:
    """`timestamp(...) < now - duration(...)` on millisecond and offset times: right at the edge, twice (cached)."""
    condition = compile_condition('timestamp(resource.lastLogin) < now - duration("2160h")')
    decide = batch_binder([condition.tree])(timestamp(NOW))  # 90 days before NOW: 2026-08-22T12:00:00Z
    cases = {
        "2026-08-22T11:59:59.999Z": True,
        "2026-08-22T12:00:00.000Z": False,
        "2026-08-22T12:59:59.999+01:00": True,
        "2026-08-22T13:00:00.001+01:00": False,
        "2026-08-22T11:59:59.999999999Z": True,
        "2026-08-22T12:00:00.000000001Z": False,
        "2026-08-22": ERROR,
        None: ERROR,
        1_700_000_000: True,  # timestamp(int) reads seconds since the epoch (2023-11-14)
    }
    timefmt.clear_cache()
    for _ in range(2):
        assert {text: decide({"lastLogin": text}, {})[0] for text in cases} == cases
