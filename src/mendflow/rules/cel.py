"""CEL conditions: parse and check once, compile to Python once, evaluate many times.

A condition sees three variables: `resource` (the vendor's JSON object), `related` (facts from other endpoints)
and `now` (the evaluation's as-of time, so time-based rules give the same answer on a replay). Anything else a
condition names is a typo that would fail on every resource, so it is refused when the playbook is loaded, as
are unknown functions and invalid regular-expression literals.

Values are the decoded JSON as is: a JSON integer is a CEL int, a JSON fraction a CEL double (heterogeneous
numeric equality makes `1 == 1.0` true anyway). See docs/rule-engine.md for the semantics and how they run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from mendflow.rules import ast
from mendflow.rules.checker import check
from mendflow.rules.lexer import SyntaxProblem
from mendflow.rules.parser import parse
from mendflow.rules.program import value_function
from mendflow.rules.values import CelError, Timestamp, type_name

VARIABLES = ("resource", "related", "now")
"""The names a condition may use as variables."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class ConditionError(Exception):
    """A condition that cannot be compiled; `offset` is the 0-based character index inside the expression."""

    def __init__(self, message: str, *, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class EvaluationError(Exception):
    """A condition that could not be decided for one resource (missing field, wrong type, non-bool result)."""


def parse_expression(source: str) -> ast.Expr:
    """The syntax tree of a CEL expression; ConditionError with the position of the first problem."""
    if not source.strip():
        raise ConditionError("the condition is empty", offset=0)
    try:
        return parse(source)
    except SyntaxProblem as problem:
        raise ConditionError(problem.message, offset=problem.offset) from None
    except RecursionError:
        raise ConditionError("CEL syntax error: the expression is nested too deeply", offset=0) from None


class Expression:
    """A compiled CEL expression over named variables (any names); `evaluate` returns any CEL value."""

    def __init__(self, source: str, tree: ast.Expr, variables: tuple[str, ...]) -> None:
        self.source = source
        self.tree = tree
        self.variables = variables
        self._fast = _compile(tree, variables, checked=False)
        self._checked: Callable[..., Any] | None = None

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The value, or EvaluationError with CEL's reason (the decoded JSON values are used as they are)."""
        try:
            arguments = [values[name] for name in self.variables]
        except KeyError as missing:
            raise EvaluationError(f"no value for variable {missing.args[0]!r}") from None
        try:
            return self._fast(*arguments)
        except Exception:
            raise EvaluationError(self.explain(arguments)) from None

    def explain(self, arguments: list[Any]) -> str:
        """Why evaluating failed: re-run with field access that reports precisely (errors are the rare path)."""
        if self._checked is None:
            self._checked = _compile(self.tree, self.variables, checked=True)
        try:
            value = self._checked(*arguments)
        except CelError as err:
            return _message(err)
        except Exception as err:  # a Python error the runtime did not translate: report it as it is
            return f"{type(err).__name__}: {err}"
        return f"condition returned {type_name(value)}, not a bool"


class Condition(Expression):
    """A playbook condition: over `resource`, `related` and `now`, and it must come out as a bool."""

    def __init__(self, source: str, tree: ast.Expr) -> None:
        super().__init__(source, tree, VARIABLES)

    def evaluate(self, values: Mapping[str, Any]) -> bool:
        """True or False; anything else (an error, a non-bool value) raises EvaluationError."""
        value = super().evaluate(values)
        if value is True or value is False:
            return value
        raise EvaluationError(f"condition returned {type_name(value)}, not a bool")


def compile_condition(source: str) -> Condition:
    """Parse and check a condition; raises ConditionError with the position of the problem. The same text
    gives the same (immutable) Condition, so loading a playbook and compiling its rules compile once."""
    return _compile_condition(source)


@functools.lru_cache(maxsize=1024)
def _compile_condition(source: str) -> Condition:
    tree = parse_expression(source)
    try:
        check(tree, VARIABLES)
    except SyntaxProblem as problem:
        raise ConditionError(problem.message, offset=problem.offset) from None
    return Condition(source, tree)


def compile_expression(source: str, variables: Iterable[str]) -> Expression:
    """Compile any CEL expression over the given variable names. Unknown names and functions are evaluation
    errors here (CEL absorbs them in `||`/`&&`), not compile errors as in conditions."""
    return Expression(source, parse_expression(source), tuple(sorted(variables)))


def variables(*, resource: Mapping[str, Any], related: Mapping[str, Any], now: Timestamp) -> dict[str, Any]:
    """The variables of one evaluation (the JSON values are used as they are, without conversion)."""
    return {"resource": resource, "related": related, "now": now}


def timestamp(moment: datetime) -> Timestamp:
    """A CEL timestamp for an aware datetime (naive ones are refused: their meaning depends on the host)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"as-of time {moment.isoformat()} has no time zone")
    micros = (moment - _EPOCH) // _MICROSECOND
    return Timestamp(micros * 1000)


def _compile(tree: ast.Expr, names: tuple[str, ...], *, checked: bool) -> Callable[..., Any]:
    try:
        return value_function(tree, names, checked=checked)
    except CelError as err:
        raise ConditionError(str(err), offset=0) from None
    except RecursionError:
        raise ConditionError("the expression is nested too deeply to compile", offset=0) from None


def _message(err: CelError) -> str:
    message = str(err)
    if message.startswith(("no such key", "cannot read field")):
        message += " (test optional fields with has(...))"
    return message
