"""CEL operators over plain Python values: equality, ordering, arithmetic, indexing, membership.

Generated code calls these when it cannot prove a cheaper inline form is exact. Each raises CelError for CEL's
error results (no matching overload, overflow, division by zero, missing key).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from mendflow.rules.values import INT_MAX, INT_MIN, UINT_MAX, CelError, Duration, Timestamp, UInt, type_name

_NUMBERS = frozenset({int, UInt, float})
_ORDERED = frozenset({int, UInt, float, str, bytes, bool})
_KEY_TYPES = frozenset({str, int, UInt, bool})


def no_overload(operator: str, *args: Any) -> CelError:
    kinds = ", ".join(type_name(arg) for arg in args)
    return CelError(f"no matching overload for '{operator}' applied to ({kinds})")


def fail(error: BaseException | Any, operator: str) -> NoReturn:
    """Raise the error a logical operator or conditional absorbed, or no-overload for a non-bool operand."""
    if isinstance(error, BaseException):
        raise error
    raise no_overload(operator, error)


def unbound(name: str) -> NoReturn:
    raise CelError(f"undeclared reference to {name!r}")


def unknown_function(name: str) -> NoReturn:
    raise CelError(f"unbound function {name!r}")


# Equality (heterogeneous: values of different kinds are unequal, numbers compare across int/uint/double)


def eq(a: Any, b: Any) -> bool:
    kind = a.__class__
    if kind is b.__class__:
        if kind is list or kind is tuple:
            return _list_eq(a, b)
        if kind is dict:
            return _map_eq(a, b)
        return bool(a == b)
    if kind in _NUMBERS and b.__class__ in _NUMBERS:
        if kind is float or b.__class__ is float:
            return _float(a) == _float(b)
        return bool(a == b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return _map_eq(a, b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return _list_eq(a, b)
    return False


def _float(number: Any) -> float:
    return float(number)


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def _list_eq(a: Any, b: Any) -> bool:
    return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b, strict=True))


def _map_eq(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> bool:
    if len(a) != len(b):
        return False
    return all(key in b and eq(value, b[key]) for key, value in a.items())


# Ordering


def lt(a: Any, b: Any) -> bool:
    x, y = _operands(a, b, "_<_")
    return bool(x < y)


def le(a: Any, b: Any) -> bool:
    x, y = _operands(a, b, "_<=_")
    return bool(x <= y)


def gt(a: Any, b: Any) -> bool:
    x, y = _operands(a, b, "_>_")
    return bool(x > y)


def ge(a: Any, b: Any) -> bool:
    x, y = _operands(a, b, "_>=_")
    return bool(x >= y)


def _operands(a: Any, b: Any, operator: str) -> tuple[Any, Any]:
    """The pair Python compares with CEL's ordering (NaN compares false, as in CEL)."""
    kind = a.__class__
    if kind is b.__class__:
        if kind in _ORDERED:
            return a, b
        if kind is Timestamp or kind is Duration:
            return a.ns, b.ns
    elif kind in _NUMBERS and b.__class__ in _NUMBERS:
        if kind is float or b.__class__ is float:
            return _float(a), _float(b)
        return a, b
    raise no_overload(operator, a, b)


# Arithmetic


def _int(value: int) -> int:
    if INT_MIN <= value <= INT_MAX:
        return value
    raise CelError("integer overflow")


def _uint(value: int) -> UInt:
    if 0 <= value <= UINT_MAX:
        return UInt(value)
    raise CelError("unsigned integer overflow")


def add(a: Any, b: Any) -> Any:
    kind = a.__class__
    if kind is b.__class__:
        if kind is int:
            return _int(a + b)
        if kind is float or kind is str or kind is bytes or kind is list:
            return a + b
        if kind is UInt:
            return _uint(int(a) + int(b))
        if kind is Duration:
            return Duration(a.ns + b.ns)
        if kind is tuple:
            return list(a) + list(b)
    elif (kind is Timestamp and b.__class__ is Duration) or (kind is Duration and b.__class__ is Timestamp):
        return Timestamp(a.ns + b.ns)
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return [*a, *b]
    raise no_overload("_+_", a, b)


def sub(a: Any, b: Any) -> Any:
    kind = a.__class__
    if kind is b.__class__:
        if kind is int:
            return _int(a - b)
        if kind is float:
            return a - b
        if kind is UInt:
            return _uint(int(a) - int(b))
        if kind is Duration:
            return Duration(a.ns - b.ns)
        if kind is Timestamp:
            return Duration(a.ns - b.ns)
    elif kind is Timestamp and b.__class__ is Duration:
        return Timestamp(a.ns - b.ns)
    raise no_overload("_-_", a, b)


def mul(a: Any, b: Any) -> Any:
    kind = a.__class__
    if kind is b.__class__:
        if kind is int:
            return _int(a * b)
        if kind is float:
            return a * b
        if kind is UInt:
            return _uint(int(a) * int(b))
    raise no_overload("_*_", a, b)


def div(a: Any, b: Any) -> Any:
    kind = a.__class__
    if kind is b.__class__:
        if kind is int or kind is UInt:
            if b == 0:
                raise CelError("division by zero")
            quotient = abs(a) // abs(b)
            if (a < 0) != (b < 0):
                quotient = -quotient
            return _int(quotient) if kind is int else UInt(quotient)
        if kind is float:
            if b == 0.0:
                if a != a or a == 0.0:
                    return float("nan")
                negative = (a < 0) != (math.copysign(1.0, b) < 0)
                return float("-inf") if negative else float("inf")
            return a / b
    raise no_overload("_/_", a, b)


def mod(a: Any, b: Any) -> Any:
    kind = a.__class__
    if kind is b.__class__ and (kind is int or kind is UInt):
        if b == 0:
            raise CelError("modulus by zero")
        remainder = abs(a) % abs(b)
        result = -remainder if a < 0 else remainder
        return result if kind is int else UInt(result)
    raise no_overload("_%_", a, b)


def neg(a: Any) -> Any:
    if a.__class__ is int:
        return _int(-a)
    if a.__class__ is float:
        return -a
    raise no_overload("-_", a)


def not_(a: Any) -> bool:
    if a is True:
        return False
    if a is False:
        return True
    raise no_overload("!_", a)


# Containers


def select(container: Any, field: str) -> Any:
    """`x.field` with a precise error (the fast path subscripts directly and re-runs this on failure)."""
    if isinstance(container, Mapping):
        try:
            return container[field]
        except KeyError:
            raise CelError(f"no such key: {field!r}") from None
    if container is None:
        raise CelError(f"cannot read field {field!r} of null")
    raise CelError(f"type '{type_name(container)}' does not support field selection (field {field!r})")


def has(container: Any, field: str) -> bool:
    if isinstance(container, Mapping):
        return field in container
    raise CelError(f"has() cannot test field {field!r} of {type_name(container)}")


def index(container: Any, key: Any) -> Any:
    if isinstance(container, list | tuple):
        kind = key.__class__
        if kind is float and key.is_integer():
            key = int(key)
        elif kind is not int and kind is not UInt:
            raise CelError(f"invalid list index of type {type_name(key)}")
        if 0 <= key < len(container):
            return container[key]
        raise CelError(f"index out of range: {key}")
    if isinstance(container, Mapping):
        return lookup(container, key)
    raise no_overload("_[_]", container, key)


def lookup(mapping: Mapping[Any, Any], key: Any) -> Any:
    kind = key.__class__
    if kind not in _KEY_TYPES and not (kind is float and key.is_integer()):
        if kind is float:
            raise CelError(f"no such key: {key!r}")
        raise CelError(f"unsupported key type {type_name(key)}")
    try:
        return mapping[key]
    except KeyError:
        raise CelError(f"no such key: {key!r}") from None


def in_(value: Any, container: Any) -> bool:
    if isinstance(container, list | tuple):
        kind = value.__class__
        if kind is str or kind is bytes or value is None:
            return value in container
        return any(eq(value, element) for element in container)
    if isinstance(container, Mapping):
        kind = value.__class__
        if kind in _KEY_TYPES or kind is float:
            return value in container
        if value is None or kind is Timestamp or kind is Duration or kind is bytes:
            return False
        raise no_overload("@in", value, container)
    raise no_overload("@in", value, container)


def make_map(entries: Iterable[tuple[Any, Any]]) -> dict[Any, Any]:
    """A map literal: keys must be int, uint, bool or string, and distinct."""
    result: dict[Any, Any] = {}
    for key, value in entries:
        if key.__class__ not in _KEY_TYPES:
            raise CelError(f"unsupported key type {type_name(key)}")
        if key in result:
            raise CelError(f"Failed with repeated key {key!r}")
        result[key] = value
    return result


def iterate(container: Any) -> Any:
    """What a comprehension ranges over: a list's elements or a map's keys."""
    if isinstance(container, list | tuple):
        return container
    if isinstance(container, Mapping):
        return list(container)
    raise no_overload("comprehension", container)


def size(value: Any) -> int:
    if isinstance(value, str | bytes | list | tuple | Mapping):
        return len(value)
    raise no_overload("size", value)
