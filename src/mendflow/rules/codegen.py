"""Plumbing for generating Python source: an indented line buffer, fresh names, and a constants pool."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mendflow.rules.values import CelType, Duration, Timestamp, UInt


@dataclass(frozen=True, slots=True)
class Code:
    """A compiled sub-expression: Python expression text plus what the compiler knows about it."""

    text: str
    """An atom: a name, a literal, a call, a subscript or a parenthesised expression."""
    kind: str | None = None
    """The CEL type it certainly has when it does not raise (`bool`, `int`, `string`, `timestamp`, …), if known."""
    simple: bool = False
    """A local name or a constant: cheap and side-effect free to repeat."""
    total: bool = False
    """Evaluating it can never raise."""


class Emitter:
    """Lines of Python at an indentation level, with unique temporary names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.level = 0
        self._count = 0

    def fresh(self, hint: str = "t") -> str:
        self._count += 1
        return f"_{hint}{self._count}"

    def emit(self, text: str) -> None:
        self.lines.append("    " * self.level + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.emit(header)
        self.level += 1
        try:
            yield
        finally:
            self.level -= 1

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        """Collect the lines emitted inside the `with` (at relative indentation) instead of emitting them."""
        saved_lines, saved_level = self.lines, self.level
        captured: list[str] = []
        self.lines, self.level = captured, 0
        try:
            yield captured
        finally:
            self.lines, self.level = saved_lines, saved_level

    def splice(self, lines: list[str]) -> None:
        """Emit previously captured lines at the current indentation."""
        prefix = "    " * self.level
        self.lines.extend(prefix + line for line in lines)


class Constants:
    """Values the generated code refers to by name (regexes, big tuples, uints, helper functions)."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}
        self._by_key: dict[tuple[type, Any], str] = {}

    def add(self, value: Any, hint: str = "k") -> str:
        key: tuple[type, Any] | None
        try:
            key = (value.__class__, value)
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in self._by_key:
            return self._by_key[key]
        name = f"_{hint}{len(self.namespace)}"
        self.namespace[name] = value
        if key is not None:
            self._by_key[key] = name
        return name

    def literal(self, value: Any) -> str:
        """Source text for a constant: a Python literal where exact, else a pooled name."""
        kind = value.__class__
        if value is None or kind is bool or kind is str or kind is bytes:
            return repr(value)
        if kind is int or (kind is float and math.isfinite(value) and math.copysign(1.0, value) > 0):
            return f"({value!r})"  # parenthesised, so `(1).__class__` and `(-1)` stay atoms
        return self.add(value)


def kind_of(value: Any) -> str | None:
    """The CEL kind of a constant value, as Code.kind spells it."""
    return {
        type(None): "null",
        bool: "bool",
        int: "int",
        UInt: "uint",
        float: "double",
        str: "string",
        bytes: "bytes",
        list: "list",
        dict: "map",
        Timestamp: "timestamp",
        Duration: "duration",
        CelType: "type",
    }.get(value.__class__)


PYTHON_CLASS = {"int": "int", "double": "float", "string": "str", "bytes": "bytes", "uint": "_UInt"}
"""Python class names (in the generated module) of kinds whose values are exactly one Python class."""
