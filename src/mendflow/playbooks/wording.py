"""How a type problem is worded: literals as written, their kinds, and the comparison to write instead."""

from __future__ import annotations

from typing import Any

from mendflow.playbooks.vendor_schema import NUMBER, Shape, describe
from mendflow.rules import ast
from mendflow.rules.values import UInt

ORDERING = frozenset({"<", "<=", ">", ">="})


def literal_kind(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, UInt)):
        return NUMBER
    if isinstance(value, str):
        return "string"
    return None


def literal_end(source: str, literal: ast.Literal) -> int:
    """Where a literal's text ends (the AST keeps only its start)."""
    start = literal.offset
    if isinstance(literal.value, str):
        quote = source[start]
        if quote in "rRbB":
            start += 1
            quote = source[start]
        triple = source.startswith(quote * 3, start)
        close = source.find(quote * 3 if triple else quote, start + (3 if triple else 1))
        while not triple and close > 0 and source[close - 1] == "\\":
            close = source.find(quote, close + 1)
        return len(source) if close < 0 else close + (3 if triple else 1)
    end = start
    while end < len(source) and (source[end].isalnum() or source[end] in "._+-"):
        if source[end] in "+-" and end > start and source[end - 1] not in "eE":
            break
        end += 1
    return end


def as_text(element: ast.Expr) -> str:
    """A list element as the string literal `string(field) in [...]` compares with (`…` when not a literal)."""
    if not isinstance(element, ast.Literal):
        return "…"
    return cel(element.value if isinstance(element.value, str) else cel(element.value))


def flipped(op: str) -> str:
    return {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)


def cel(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def retyped(value: Any, kinds: frozenset[str]) -> str | None:
    """The literal written as the kind the field is, when there is an obvious spelling."""
    if "boolean" in kinds and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    if NUMBER in kinds and isinstance(value, str):
        try:
            return cel(int(value))
        except ValueError:
            return None
    if "string" in kinds and not isinstance(value, str):
        return cel(cel(value))
    return None


def converted(path: str, op: str, value: Any, text: str, kind: str) -> str:
    if op in ORDERING:
        return f"double({path}) {op} {cel(value) if kind == NUMBER else text}"
    as_text = text if kind == "string" else cel(cel(value))
    return f"string({path}) {op} {as_text}"


def example(kinds: frozenset[str], value: Any) -> str:
    """What a value of the missed kind looks like, in words: `the number 1`."""
    words = []
    for kind in sorted(kinds):
        if kind == NUMBER and isinstance(value, str):
            try:
                words.append(f"the number {int(value)}")
                continue
            except ValueError:
                pass
        if kind == "string" and not isinstance(value, str):
            words.append(f"the string {cel(cel(value))}")
            continue
        words.append(f"values that are {describe([kind])}")
    return " and ".join(words)


def opposite(value: Any, text: str) -> str:
    if value is True:
        return "false"
    if value is False:
        return "true"
    return f"<the values that are findings>, not != {text}"


def guard_hint(found: Shape, use: str) -> str:
    if found.kinds - {"null", "string"}:
        return f"convert it first, e.g. string({found.path})"
    return f"test it first: `{found.path} != null && {use}`, or choose a fallback with `? :`"


def holds(default: Any, op: str, value: Any) -> bool:
    try:
        if op == "==" or op == "in":
            return bool(default == value and type(default) is type(value))
        if op == "!=":
            return bool(default != value)
        if op == "<":
            return bool(default < value)
        if op == "<=":
            return bool(default <= value)
        if op == ">":
            return bool(default > value)
        if op == ">=":
            return bool(default >= value)
    except TypeError:
        return False
    return False
