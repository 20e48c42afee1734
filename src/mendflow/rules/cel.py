"""CEL conditions: parse and check once, evaluate many times (with celpy).

A condition sees three variables: `resource` (the vendor's JSON object), `related` (facts from other endpoints)
and `now` (the evaluation's as-of time, so time-based rules give the same answer on a replay). Anything else a
condition names is a typo that would fail on every resource, so it is refused when the playbook is loaded.

The interpreted celpy runner is used on purpose: celpy builds one process-wide parser whose tree class is fixed by
the first Environment created, and only the interpreter works with either tree class.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

VARIABLES = ("resource", "related", "now")
"""The names a condition may use as variables."""

# Functions and type names a bare identifier may also refer to (e.g. `type(x) == string`).
_TYPE_NAMES = frozenset(
    {"bool", "bytes", "double", "duration", "int", "list", "map", "null_type", "string", "timestamp", "type", "uint"}
)
# Macros whose first argument declares a loop variable: `list.exists(r, r.enforcement == "active")`.
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})

_ENVIRONMENT = celpy.Environment()


class ConditionError(Exception):
    """A condition that cannot be compiled; `offset` is the 0-based character index inside the expression."""

    def __init__(self, message: str, *, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class EvaluationError(Exception):
    """A condition that could not be decided for one resource (missing field, wrong type, non-bool result)."""


@dataclass(frozen=True)
class Condition:
    """A parsed, checked condition ready to evaluate."""

    source: str
    tree: lark.Tree[Any]
    program: celpy.Runner

    def evaluate(self, variables: Mapping[str, celtypes.Value]) -> bool:
        """True or False; anything else (an error, a non-bool value) raises EvaluationError."""
        try:
            value = self.program.evaluate(dict(variables))
        except CELEvalError as err:
            raise EvaluationError(_eval_message(err)) from None
        except (TypeError, ValueError, KeyError, ArithmeticError) as err:
            # celpy lets some Python errors through for inputs its overloads do not expect.
            raise EvaluationError(f"{type(err).__name__}: {err}") from None
        if isinstance(value, CELEvalError):
            raise EvaluationError(_eval_message(value))
        if not isinstance(value, celtypes.BoolType):
            raise EvaluationError(f"condition returned {_type_name(value)}, not a bool")
        return bool(value)


def compile_condition(source: str) -> Condition:
    """Parse and check a condition; raises ConditionError with the position of the problem."""
    if not source.strip():
        raise ConditionError("the condition is empty", offset=0)
    tree = _parse(source)
    _check_names(tree)
    return Condition(source=source, tree=tree, program=_ENVIRONMENT.program(tree))


def variables(
    *, resource: Mapping[str, Any], related: Mapping[str, Any], now: celtypes.TimestampType
) -> dict[str, celtypes.Value]:
    """The CEL activation for one resource. Build it once and evaluate every rule of that type with it."""
    return {"resource": json_to_cel(dict(resource)), "related": json_to_cel(dict(related)), "now": now}


def timestamp(moment: datetime) -> celtypes.TimestampType:
    """A CEL timestamp for an aware datetime (naive ones are refused: their meaning depends on the host)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"as-of time {moment.isoformat()} has no time zone")
    return celtypes.TimestampType(moment.astimezone(UTC))


def _parse(source: str) -> lark.Tree[Any]:
    try:
        tree: lark.Tree[Any] = _ENVIRONMENT.compile(source)
    except CELParseError as err:
        raise ConditionError(_syntax_message(err, source), offset=_syntax_offset(err, source)) from None
    return tree


def _syntax_message(err: CELParseError, source: str) -> str:
    cause = err.__context__
    if isinstance(cause, lark.exceptions.UnexpectedToken):
        if cause.token.type == "$END":
            return "CEL syntax error: the expression ends too early"
        return f"CEL syntax error: unexpected {cause.token.value!r}"
    if isinstance(cause, lark.exceptions.UnexpectedCharacters):
        position = cause.pos_in_stream
        char = source[position] if position is not None and 0 <= position < len(source) else "?"
        if char in "\"'":
            return "CEL syntax error: unterminated string"
        hint = " (use '==' to compare)" if char == "=" else ""
        return f"CEL syntax error: unexpected character {char!r}{hint}"
    return "CEL syntax error"


def _syntax_offset(err: CELParseError, source: str) -> int:
    cause = err.__context__
    if isinstance(cause, lark.exceptions.UnexpectedToken) and cause.token.type == "$END":
        return len(source.rstrip())
    if isinstance(cause, lark.exceptions.UnexpectedInput) and cause.pos_in_stream is not None:
        return int(cause.pos_in_stream)
    if err.line and err.column:
        lines = source.splitlines(keepends=True)
        return sum(len(line) for line in lines[: err.line - 1]) + err.column - 1
    return 0


def _check_names(tree: lark.Tree[Any]) -> None:
    """Refuse bare identifiers that are neither a variable, a macro's loop variable, nor a type name."""
    loop_vars = set(_loop_variables(tree))
    allowed = set(VARIABLES) | loop_vars | _TYPE_NAMES
    for token in _bare_identifiers(tree):
        name = str(token)
        if name in allowed:
            continue
        close = difflib.get_close_matches(name, VARIABLES, n=1, cutoff=0.6)
        hint = f" — did you mean {close[0]!r}?" if close else ""
        raise ConditionError(
            f"unknown variable {name!r}{hint} (a condition can use: {', '.join(VARIABLES)})",
            offset=token.start_pos or 0,
        )


def _bare_identifiers(tree: lark.Tree[Any]) -> Iterator[lark.Token]:
    for node in _subtrees(tree):
        if node.data == "ident":
            for child in node.children:
                if isinstance(child, lark.Token):
                    yield child


def _loop_variables(tree: lark.Tree[Any]) -> Iterator[str]:
    for node in _subtrees(tree):
        if node.data != "member_dot_arg" or len(node.children) < 3:
            continue
        method, args = node.children[1], node.children[2]
        if str(method) not in _MACROS or not isinstance(args, lark.Tree) or not args.children:
            continue
        first = args.children[0]
        if isinstance(first, lark.Tree):
            names = list(_bare_identifiers(first))
            if len(names) == 1:
                yield str(names[0])


def _subtrees(tree: lark.Tree[Any]) -> Iterator[lark.Tree[Any]]:
    """Every subtree, parents before children (lark's own iterator is untyped)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed([child for child in node.children if isinstance(child, lark.Tree)]))


def _eval_message(err: CELEvalError) -> str:
    message = str(err.args[0]) if err.args else "evaluation failed"
    # celpy appends the whole activation to "undeclared reference" messages; it is noise (and holds data).
    message = message.split(" (in activation", 1)[0]
    if message.startswith("no such member"):
        message += " (test optional fields with has(...))"
    return message


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    name = type(value).__name__
    return name.removesuffix("Type").lower()
