"""CEL in response workflows: guards (`when`, `condition`, `until`) and `${{ … }}` templates in strings.

Expressions see three variables: `inputs` (the run's checked inputs), `steps` (per step id: `status` and
`output`) and `now` (workflow time). They run on the rule engine's CEL (`mendflow.rules`), which is pure, so the
interpreter evaluates them inside the workflow and a replay gives the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mendflow.rules import ast
from mendflow.rules.cel import ConditionError, Expression, compile_expression, parse_expression, timestamp
from mendflow.rules.checker import check
from mendflow.rules.lexer import SyntaxProblem

VARIABLES = ("inputs", "now", "steps")
_ROOTS = ("steps", "inputs")
_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True)
class Piece:
    """One CEL expression inside a field's text: its source and where it starts in that text."""

    source: str
    start: int


def pieces(text: str, *, template: bool) -> list[Piece]:
    """The CEL expressions of a field: the whole text, or each `${{ … }}` part of a template."""
    if not template:
        return [Piece(text, 0)]
    return [Piece(m.group(1), m.start(1)) for m in _TEMPLATE.finditer(text)]


def parse_checked(source: str, extra: tuple[str, ...] = ()) -> ast.Expr:
    """The syntax tree; ConditionError (with the offset) for syntax, unknown variables and functions.
    `extra`: more variable names in scope (a `for_each` body's item, by its `as` name)."""
    tree = parse_expression(source)
    try:
        check(tree, (*VARIABLES, *extra))
    except SyntaxProblem as problem:
        raise ConditionError(problem.message.replace("a condition", "an expression"), offset=problem.offset) from None
    return tree


def references(tree: ast.Expr) -> Iterator[tuple[str, str, str | None, int]]:
    """(`steps`|`inputs`, name, the field read after it, offset of the name) for each `steps.X…` / `inputs.X`."""
    if isinstance(tree, ast.Select) and isinstance(tree.operand, ast.Ident) and tree.operand.name in _ROOTS:
        yield tree.operand.name, tree.field, None, tree.offset
        return
    if isinstance(tree, ast.Select) and isinstance(tree.operand, ast.Select):
        inner = tree.operand
        if isinstance(inner.operand, ast.Ident) and inner.operand.name == "steps":
            yield "steps", inner.field, tree.field, inner.offset
            return
    for child in ast.children(tree):
        yield from references(child)


def output_fields(tree: ast.Expr) -> Iterator[tuple[str, str, int]]:
    """(step id, output field, offset of the field) for each `steps.X.output.F`."""
    if (
        isinstance(tree, ast.Select)
        and isinstance(tree.operand, ast.Select)
        and tree.operand.field == "output"
        and isinstance(tree.operand.operand, ast.Select)
        and isinstance(tree.operand.operand.operand, ast.Ident)
        and tree.operand.operand.operand.name == "steps"
    ):
        yield tree.operand.operand.field, tree.field, tree.offset
        return
    for child in ast.children(tree):
        yield from output_fields(child)


def scope(inputs: Mapping[str, Any], steps: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The variables of one evaluation."""
    return {"inputs": dict(inputs), "steps": dict(steps), "now": timestamp(now)}


def evaluate(source: str, values: Mapping[str, Any]) -> Any:
    """The value of one expression over `values` (EvaluationError when it cannot be decided)."""
    return _compiled(source, tuple(values)).evaluate(values)


def render(text: str, values: Mapping[str, Any]) -> str:
    """A template with each `${{ … }}` replaced by its value (strings as they are, anything else as CEL prints)."""

    def value(match: re.Match[str]) -> str:
        result = evaluate(match.group(1), values)
        return result if isinstance(result, str) else str(result)

    return _TEMPLATE.sub(value, text)


_CACHE: dict[tuple[str, tuple[str, ...]], Expression] = {}


def _compiled(source: str, names: tuple[str, ...]) -> Expression:
    found = _CACHE.get((source, names))
    if found is None:
        found = _CACHE[(source, names)] = compile_expression(source, names)
    return found
