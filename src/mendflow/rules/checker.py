"""Load-time checks for rule conditions: every name must mean something, so typos fail at load, not per resource."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from mendflow.rules import ast
from mendflow.rules.calls import known
from mendflow.rules.functions import GLOBALS, METHODS
from mendflow.rules.lexer import SyntaxProblem
from mendflow.rules.regex import compile_pattern
from mendflow.rules.values import TYPE_IDENTIFIERS, CelError


def check(node: ast.Expr, variables: tuple[str, ...]) -> None:
    """SyntaxProblem for an unknown variable or function, a wrong argument count or an invalid regex literal."""
    for problem in _problems(node, frozenset(variables), variables):
        raise problem


def _problems(node: ast.Expr, bound: frozenset[str], variables: tuple[str, ...]) -> Iterator[SyntaxProblem]:
    if isinstance(node, ast.Ident):
        if node.name not in bound and node.name not in TYPE_IDENTIFIERS:
            close = difflib.get_close_matches(node.name, variables, n=1, cutoff=0.6)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            yield SyntaxProblem(
                f"unknown variable {node.name!r}{hint} (a condition can use: {', '.join(variables)})", node.offset
            )
        return
    if isinstance(node, ast.Comprehension):
        yield from _problems(node.range, bound, variables)
        inner = bound | {node.variable}
        for part in (node.predicate, node.transform):
            if part is not None:
                yield from _problems(part, inner, variables)
        return
    if isinstance(node, ast.Call):
        yield from _call_problems(node)
    for child in ast.children(node):
        yield from _problems(child, bound, variables)


def _call_problems(node: ast.Call) -> Iterator[SyntaxProblem]:
    method = node.target is not None
    table = METHODS if method else GLOBALS
    if node.function not in table:
        names = list(METHODS if method else GLOBALS)
        close = difflib.get_close_matches(node.function, names, n=1, cutoff=0.6)
        hint = f" — did you mean {close[0]!r}?" if close else ""
        yield SyntaxProblem(f"unknown function {node.function!r}{hint}", node.offset)
        return
    if not known(node.function, method, len(node.args)):
        counts = sorted(table[node.function][1])
        yield SyntaxProblem(
            f"{node.function}() takes {' or '.join(map(str, counts))} argument(s), not {len(node.args)}", node.offset
        )
        return
    if node.function == "matches":
        pattern = node.args[-1]
        if isinstance(pattern, ast.Literal) and pattern.value.__class__ is str:
            try:
                compile_pattern(pattern.value)
            except CelError as err:
                yield SyntaxProblem(str(err), pattern.offset)
