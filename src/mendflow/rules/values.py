"""CEL values with no distinct Python type, and CEL's error value.

JSON data stays plain Python: `None` is null, `bool`, `int` is CEL int, `float` is double, `str`, `list`, `dict`.
Python `bytes` is CEL bytes. The wrappers below cover the rest: `UInt` (an `int` subclass, so it compares and
hashes like the number it holds), `Timestamp` and `Duration` (integer nanoseconds) and `CelType` (a type value
such as `int` or `google.protobuf.Timestamp`).
"""

from __future__ import annotations

from typing import Any

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
UINT_MAX = 2**64 - 1
NANOS = 1_000_000_000

TIMESTAMP_MIN = -62_135_596_800 * NANOS
"""0001-01-01T00:00:00Z in nanoseconds since the Unix epoch."""
TIMESTAMP_MAX = 253_402_300_799 * NANOS + NANOS - 1
"""9999-12-31T23:59:59.999999999Z."""
DURATION_MAX = INT_MAX
"""Durations hold signed 64-bit nanoseconds (about ±292 years), as the conformance tests expect."""


class CelError(Exception):
    """A CEL error value: evaluation failed (missing key, no matching overload, overflow, …)."""


class UInt(int):
    """A CEL uint (0 … 2**64-1). Equal to, and hashing like, the int of the same value (heterogeneous equality)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}u"


class Timestamp:
    """A point in time: nanoseconds since 1970-01-01T00:00:00Z, within year 1 … 9999."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        if not TIMESTAMP_MIN <= ns <= TIMESTAMP_MAX:
            raise CelError("timestamp out of range")
        self.ns = ns

    def __eq__(self, other: object) -> bool:
        return other.__class__ is Timestamp and self.ns == other.ns

    def __lt__(self, other: Timestamp) -> bool:
        return self.ns < other.ns

    def __hash__(self) -> int:
        return hash(("timestamp", self.ns))

    def __repr__(self) -> str:
        from mendflow.rules.timefmt import format_timestamp

        return f"timestamp({format_timestamp(self.ns)!r})"


class Duration:
    """A signed span of time in nanoseconds."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        if not -DURATION_MAX <= ns <= DURATION_MAX:
            raise CelError("duration out of range")
        self.ns = ns

    def __eq__(self, other: object) -> bool:
        return other.__class__ is Duration and self.ns == other.ns

    def __lt__(self, other: Duration) -> bool:
        return self.ns < other.ns

    def __hash__(self) -> int:
        return hash(("duration", self.ns))

    def __repr__(self) -> str:
        from mendflow.rules.timefmt import format_duration

        return f"duration({format_duration(self.ns)!r})"


class CelType:
    """A CEL type as a value (`type(1) == int`). One instance per name, so identity is equality."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


TYPES: dict[str, CelType] = {
    name: CelType(name)
    for name in (
        "bool",
        "bytes",
        "double",
        "int",
        "list",
        "map",
        "null_type",
        "string",
        "type",
        "uint",
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
    )
}
"""Type values by name. `timestamp`/`duration` are functions, their types are the protobuf well-known ones."""

TYPE_IDENTIFIERS = frozenset(name for name in TYPES if "." not in name)
"""Type names that may appear as bare identifiers (`type(x) == string`)."""

_TYPE_OF: dict[type, CelType] = {
    bool: TYPES["bool"],
    int: TYPES["int"],
    UInt: TYPES["uint"],
    float: TYPES["double"],
    str: TYPES["string"],
    bytes: TYPES["bytes"],
    list: TYPES["list"],
    tuple: TYPES["list"],
    dict: TYPES["map"],
    type(None): TYPES["null_type"],
    Timestamp: TYPES["google.protobuf.Timestamp"],
    Duration: TYPES["google.protobuf.Duration"],
    CelType: TYPES["type"],
}


def type_of(value: Any) -> CelType:
    """The CEL type of a value (`type(x)`)."""
    found = _TYPE_OF.get(value.__class__)
    if found is None:
        if isinstance(value, dict):
            return TYPES["map"]
        if isinstance(value, list | tuple):
            return TYPES["list"]
        raise CelError(f"value of Python type {type(value).__name__} is not a CEL value")
    return found


def type_name(value: Any) -> str:
    """A short CEL type name for messages: `string`, `int`, `null`, `map`, `timestamp`, …"""
    if value is None:
        return "null"
    if value.__class__ is Timestamp:
        return "timestamp"
    if value.__class__ is Duration:
        return "duration"
    try:
        return type_of(value).name
    except CelError:
        return type(value).__name__
