"""Which fields a condition reads, and their values on one resource: the evidence of a finding.

The paths come from the parsed expression, not from the text, so `resource.config["insecure_ssl"]`, a method
call on a field (`resource.config.url.startsWith(...)`) and a field inside `has(...)` are all recognised, and a
string literal that merely looks like a path is not. An auditor then sees exactly the values that decided.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mendflow.rules import ast

Segment = str | int
FieldPath = tuple[Segment, ...]
"""A root variable name followed by keys (str) and list indices (int)."""

ROOTS = frozenset({"resource", "related"})
"""Variables whose fields are evidence (`now` is the finding's `observed_at`)."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MISSING = object()


def read_paths(tree: ast.Expr) -> tuple[FieldPath, ...]:
    """Every field path under `resource`/`related` the expression reads, longest form, in source order."""
    found: list[FieldPath] = []
    for path in _walk(tree):
        if len(path) > 1 and path not in found:
            found.append(path)
    return tuple(found)


def format_path(path: FieldPath) -> str:
    """`resource.config.insecure_ssl`, `resource.events[0]`, `resource.labels["team-a"]`."""
    text = str(path[0])
    for segment in path[1:]:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif _IDENTIFIER.fullmatch(segment):
            text += f".{segment}"
        else:
            text += f"[{json.dumps(segment)}]"
    return text


def collect(paths: tuple[FieldPath, ...], roots: Mapping[str, Any]) -> dict[str, Any]:
    """Field path → value (a copy) for every path present; a path missing on this resource is left out."""
    evidence: dict[str, Any] = {}
    for path in paths:
        value = _read(path, roots)
        if value is not _MISSING:
            evidence[format_path(path)] = copy.deepcopy(value)
    return evidence


def _read(path: FieldPath, roots: Mapping[str, Any]) -> Any:
    value: Any = roots.get(str(path[0]), _MISSING)
    for segment in path[1:]:
        value = _step(value, segment)
        if value is _MISSING:
            break
    return value


def _step(value: Any, segment: Segment) -> Any:
    if isinstance(segment, str) and isinstance(value, Mapping):
        return value.get(segment, _MISSING)
    if isinstance(segment, int) and isinstance(value, list) and -len(value) <= segment < len(value):
        return value[segment]
    return _MISSING


def _walk(node: ast.Expr) -> Iterator[FieldPath]:
    """Yield the maximal access chains; descend only where a node is not itself a chain."""
    chain = _chain(node)
    if chain is not None:
        yield chain
        return
    for child in ast.children(node):
        yield from _walk(child)


def _chain(node: ast.Expr) -> FieldPath | None:
    """The path a pure access chain rooted at a ROOTS variable denotes, else None."""
    if isinstance(node, ast.Ident):
        return (node.name,) if node.name in ROOTS else None
    if isinstance(node, ast.Select):
        base = _chain(node.operand)
        return (*base, node.field) if base is not None else None
    if isinstance(node, ast.Index):
        base = _chain(node.operand)
        key = _literal_key(node.index)
        return (*base, key) if base is not None and key is not None else None
    return None


def _literal_key(node: ast.Expr) -> Segment | None:
    """The key of `x["name"]` or `x[0]`; None for a computed index (the chain then stops before it)."""
    if isinstance(node, ast.Literal) and node.value.__class__ in (str, int):
        return node.value
    return None
