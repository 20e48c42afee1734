"""CEL's standard functions: conversions, string tests, sizes, timestamp and duration accessors.

GLOBALS maps `f(args)` names and METHODS maps `x.f(args)` names to (implementation, allowed argument counts);
a method's implementation takes the receiver first.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable
from typing import Any, cast

from mendflow.rules import runtime, timefmt
from mendflow.rules.regex import matches
from mendflow.rules.runtime import no_overload
from mendflow.rules.values import (
    INT_MAX,
    INT_MIN,
    NANOS,
    TYPES,
    UINT_MAX,
    CelError,
    CelType,
    Duration,
    Timestamp,
    UInt,
    type_of,
)

_INT_TEXT = re.compile(r"[+-]?\d+", re.ASCII)
_DOUBLE_TEXT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.ASCII | re.IGNORECASE)
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


def to_int(value: Any) -> int:
    kind = value.__class__
    if kind is int:
        return cast(int, value)
    if kind is UInt:
        if value > INT_MAX:
            raise CelError("range error converting uint to int")
        return int(value)
    if kind is float:
        if not -(2.0**63) < value < 2.0**63:
            raise CelError("range error converting double to int")
        return int(value)
    if kind is str:
        if not _INT_TEXT.fullmatch(value):
            raise CelError(f"cannot convert {value!r} to int")
        number = int(value)
        if not INT_MIN <= number <= INT_MAX:
            raise CelError("range error converting string to int")
        return number
    if kind is Timestamp:
        return cast(int, value.ns // NANOS)
    raise no_overload("int", value)


def to_uint(value: Any) -> UInt:
    kind = value.__class__
    if kind is UInt:
        return cast(UInt, value)
    if kind is int:
        if value < 0:
            raise CelError("range error converting negative int to uint")
        return UInt(value)
    if kind is float:
        if not -1.0 < value < 2.0**64:
            raise CelError("range error converting double to uint")
        return UInt(int(value))
    if kind is str:
        if not _INT_TEXT.fullmatch(value) or not 0 <= int(value) <= UINT_MAX:
            raise CelError(f"cannot convert {value!r} to uint")
        return UInt(int(value))
    raise no_overload("uint", value)


def to_double(value: Any) -> float:
    kind = value.__class__
    if kind is float:
        return cast(float, value)
    if kind is int or kind is UInt:
        return float(value)
    if kind is str:
        if not _DOUBLE_TEXT.fullmatch(value):
            raise CelError(f"cannot convert {value!r} to double")
        return float(value)
    raise no_overload("double", value)


def to_string(value: Any) -> str:
    kind = value.__class__
    if kind is str:
        return cast(str, value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is UInt:
        return str(int(value))
    if kind is float:
        return format_double(value)
    if kind is bytes:
        try:
            return cast(str, value.decode("utf-8"))
        except UnicodeDecodeError:
            raise CelError("invalid UTF-8 in bytes converted to string") from None
    if kind is Timestamp:
        return timefmt.format_timestamp(value.ns)
    if kind is Duration:
        return timefmt.format_duration(value.ns)
    if kind is CelType:
        return cast(str, value.name)
    raise no_overload("string", value)


def format_double(value: float) -> str:
    """Like Go's strconv.FormatFloat(v, 'g', -1, 64), which CEL implementations use for string(double)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    text = "".join(str(d) for d in digits)
    point = len(text) + int(exponent)  # position of the decimal point within the digits
    prefix = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:  # Go %g with shortest precision switches at exponent 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        power = point - 1
        return f"{prefix}{mantissa}e{'+' if power >= 0 else '-'}{abs(power):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def to_bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    if value.__class__ is str:
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise CelError(f"cannot convert {value!r} to bool")
    raise no_overload("bool", value)


def to_bytes(value: Any) -> bytes:
    if value.__class__ is bytes:
        return value
    if value.__class__ is str:
        return value.encode("utf-8")
    raise no_overload("bytes", value)


def to_timestamp(value: Any) -> Timestamp:
    kind = value.__class__
    if kind is str:
        return timefmt.timestamp_of(value)
    if kind is Timestamp:
        return cast(Timestamp, value)
    if kind is int:
        return Timestamp(value * NANOS)
    raise no_overload("timestamp", value)


def to_duration(value: Any) -> Duration:
    if value.__class__ is str:
        return Duration(timefmt.parse_duration(value))
    if value.__class__ is Duration:
        return value
    raise no_overload("duration", value)


def dyn(value: Any) -> Any:
    return value


def cel_type(value: Any) -> CelType:
    return type_of(value)


def _string_test(name: str, test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def function(text: Any, part: Any) -> bool:
        if text.__class__ is str and part.__class__ is str:
            return test(text, part)
        raise no_overload(name, text, part)

    function.__name__ = name
    return function


contains = _string_test("contains", lambda text, part: part in text)
starts_with = _string_test("startsWith", str.startswith)
ends_with = _string_test("endsWith", str.endswith)


def lower_ascii(text: Any) -> str:
    if text.__class__ is str:
        return "".join(c.lower() if c.isascii() else c for c in text)
    raise no_overload("lowerAscii", text)


def upper_ascii(text: Any) -> str:
    if text.__class__ is str:
        return "".join(c.upper() if c.isascii() else c for c in text)
    raise no_overload("upperAscii", text)


def _accessor(name: str) -> Callable[..., int]:
    def function(value: Any, zone: Any = None) -> int:
        if zone is not None and zone.__class__ is not str:
            raise no_overload(name, value, zone)
        if value.__class__ is Timestamp:
            return timefmt.timestamp_field(value.ns, name, zone)
        if value.__class__ is Duration and zone is None and name in _DURATION_FIELDS:
            return timefmt.duration_field(value.ns, name)
        raise no_overload(name, value)

    function.__name__ = name
    return function


_DURATION_FIELDS = frozenset({"getHours", "getMinutes", "getSeconds", "getMilliseconds"})
_ACCESSORS = (
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
)

Implementation = tuple[Callable[..., Any], frozenset[int]]

GLOBALS: dict[str, Implementation] = {
    "int": (to_int, frozenset({1})),
    "uint": (to_uint, frozenset({1})),
    "double": (to_double, frozenset({1})),
    "string": (to_string, frozenset({1})),
    "bool": (to_bool, frozenset({1})),
    "bytes": (to_bytes, frozenset({1})),
    "timestamp": (to_timestamp, frozenset({1})),
    "duration": (to_duration, frozenset({1})),
    "dyn": (dyn, frozenset({1})),
    "type": (cel_type, frozenset({1})),
    "size": (runtime.size, frozenset({1})),
    "matches": (matches, frozenset({2})),
    "contains": (contains, frozenset({2})),
    "startsWith": (starts_with, frozenset({2})),
    "endsWith": (ends_with, frozenset({2})),
}
"""Global functions (`size(x)`, `int(x)`, …). The string tests are also callable as `contains(s, part)`."""

METHODS: dict[str, Implementation] = {
    "size": (runtime.size, frozenset({0})),
    "contains": (contains, frozenset({1})),
    "startsWith": (starts_with, frozenset({1})),
    "endsWith": (ends_with, frozenset({1})),
    "matches": (matches, frozenset({1})),
    "lowerAscii": (lower_ascii, frozenset({0})),
    "upperAscii": (upper_ascii, frozenset({0})),
    **{name: (_accessor(name), frozenset({0, 1})) for name in _ACCESSORS},
}
"""Receiver-style functions (`s.startsWith(p)`, `t.getFullYear()`); arity excludes the receiver."""

CONSTANT_SAFE = frozenset({"int", "uint", "double", "string", "bool", "bytes", "timestamp", "duration", "type", "dyn"})
"""Global functions whose result depends only on their arguments, so a call on literals can be folded."""

TYPE_VALUES = TYPES
