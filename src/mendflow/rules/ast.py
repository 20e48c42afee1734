"""The parsed form of a CEL expression. Macros (`has`, `all`, `exists`, …) are their own nodes.

Every node records `offset`, the 0-based index in the source where it starts (its operator for binary nodes),
so later stages can point at the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any
    """None, bool, int, UInt, float, str or bytes."""
    offset: int


@dataclass(frozen=True, slots=True)
class Ident:
    name: str
    offset: int


@dataclass(frozen=True, slots=True)
class Select:
    operand: Expr
    field: str
    offset: int


@dataclass(frozen=True, slots=True)
class Index:
    operand: Expr
    index: Expr
    offset: int


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    target: Expr | None
    """The receiver of `x.f(…)`; None for a global call `f(…)`."""
    args: tuple[Expr, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class ListLit:
    elements: tuple[Expr, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class MapLit:
    entries: tuple[tuple[Expr, Expr], ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    """`!` or `-`."""
    operand: Expr
    offset: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    """An arithmetic or relational operator: + - * / % == != < <= > >= in."""
    left: Expr
    right: Expr
    offset: int


@dataclass(frozen=True, slots=True)
class Logical:
    op: str
    """`&&` or `||`; a chain `a && b && c` is one node with three operands."""
    operands: tuple[Expr, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Conditional:
    condition: Expr
    then: Expr
    otherwise: Expr
    offset: int


@dataclass(frozen=True, slots=True)
class Has:
    """`has(x.f)`: whether map `x` has key `f` (the operand `x` itself must evaluate)."""

    target: Select
    offset: int


@dataclass(frozen=True, slots=True)
class Comprehension:
    """`range.all(v, p)`, `exists`, `exists_one`, `filter(v, p)`, `map(v, t)` and `map(v, p, t)`."""

    macro: str
    range: Expr
    variable: str
    predicate: Expr | None
    """The filter of `all`/`exists`/`exists_one`/`filter` and of three-argument `map`."""
    transform: Expr | None
    """The result expression of `map`."""
    offset: int


Expr = (
    Literal
    | Ident
    | Select
    | Index
    | Call
    | ListLit
    | MapLit
    | Unary
    | Binary
    | Logical
    | Conditional
    | Has
    | Comprehension
)

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})


def children(node: Expr) -> tuple[Expr, ...]:
    """Direct sub-expressions in source order."""
    if isinstance(node, Select):
        return (node.operand,)
    if isinstance(node, Index):
        return (node.operand, node.index)
    if isinstance(node, Call):
        return ((node.target,) if node.target is not None else ()) + node.args
    if isinstance(node, ListLit):
        return node.elements
    if isinstance(node, MapLit):
        return tuple(part for entry in node.entries for part in entry)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Logical):
        return node.operands
    if isinstance(node, Conditional):
        return (node.condition, node.then, node.otherwise)
    if isinstance(node, Has):
        return (node.target,)
    if isinstance(node, Comprehension):
        return tuple(n for n in (node.range, node.predicate, node.transform) if n is not None)
    return ()


def free_variables(node: Expr, bound: frozenset[str] = frozenset()) -> set[str]:
    """Identifiers a node reads that are not loop variables of an enclosing comprehension within it."""
    if isinstance(node, Ident):
        return set() if node.name in bound else {node.name}
    if isinstance(node, Comprehension):
        found = free_variables(node.range, bound)
        inner = bound | {node.variable}
        for part in (node.predicate, node.transform):
            if part is not None:
                found |= free_variables(part, inner)
        return found
    names: set[str] = set()
    for child in children(node):
        names |= free_variables(child, bound)
    return names
