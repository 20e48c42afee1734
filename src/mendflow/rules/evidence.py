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

import lark

Segment = str | int
FieldPath = tuple[Segment, ...]
"""A root variable name followed by keys (str) and list indices (int)."""

ROOTS = frozenset({"resource", "related"})
"""Variables whose fields are evidence (`now` is the finding's `observed_at`)."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MISSING = object()


def read_paths(tree: lark.Tree[Any]) -> tuple[FieldPath, ...]:
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


def _walk(node: lark.Tree[Any]) -> Iterator[FieldPath]:
    """Yield the maximal access chains; descend only where a node is not itself a chain."""
    chain = _chain(node)
    if chain is not None:
        yield chain
        return
    for child in node.children:
        if isinstance(child, lark.Tree):
            yield from _walk(child)


def _chain(node: lark.Tree[Any]) -> FieldPath | None:
    """The path a pure access chain rooted at a ROOTS variable denotes, else None."""
    kind = node.data
    children = node.children
    if kind in ("member", "primary") and len(children) == 1 and isinstance(children[0], lark.Tree):
        return _chain(children[0])
    if kind == "ident" and children and str(children[0]) in ROOTS:
        return (str(children[0]),)
    if kind == "member_dot" and len(children) == 2 and isinstance(children[0], lark.Tree):
        base = _chain(children[0])
        return (*base, str(children[1])) if base is not None else None
    if kind == "member_index" and len(children) == 2 and isinstance(children[0], lark.Tree):
        base = _chain(children[0])
        key = _literal_key(children[1])
        return (*base, key) if base is not None and key is not None else None
    return None


def _literal_key(node: object) -> Segment | None:
    """The key of `x["name"]` or `x[0]`; None for a computed index (the chain then stops before it)."""
    while isinstance(node, lark.Tree):
        if len(node.children) != 1:
            return None
        node = node.children[0]
    if not isinstance(node, lark.Token):
        return None
    text = str(node)
    if node.type == "INT_LIT":
        try:
            return int(text, 0)
        except ValueError:
            return None
    if node.type == "STRING_LIT" and len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        inner = text[1:-1]
        return inner if "\\" not in inner else None
    return None
