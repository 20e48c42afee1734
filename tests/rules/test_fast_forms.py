"""Fast forms (`&&`/`||` as Python's and/or, run first, the exact code only if they raise) decide every condition
exactly as the exact code does, on resources with missing fields and wrong types."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from mendflow.rules import compile_condition
from mendflow.rules.cel import VARIABLES, timestamp
from mendflow.rules.program import batch_binder, value_function

NOW = timestamp(datetime(2026, 11, 20, tzinfo=UTC))
MISSING = object()

CONDITIONS = [
    'resource.a == "x" && resource.b == false',
    'resource.b == false && resource.a == "x"',
    'resource.a == "x" || resource.b == true',
    '(resource.a == "x" && resource.b == true) || resource.c == 1',
    '!(resource.a == "x" || resource.b == true) && resource.c != 1',
    "resource.items.exists(i, i.x == 1)",
    "resource.items.all(i, i.x == 1)",
    'resource.items.exists(i, i.x == 1 && i.y == "z") || resource.b == true',
    '!resource.items.exists(i, i.y == "z") && resource.a == "x"',
    'resource.b == true ? resource.a == "x" : resource.c > 0',
    "size(resource.items) > 1 && resource.items.all(i, has(i.x))",
    'timestamp(resource.t) < now - duration("24h") && resource.b == false',
    'resource.a == related.a || related.a.startsWith("x")',
    'resource.b == false && resource.items.exists(i, i.x == 1) && resource.a == "x"',
    'resource.a == "x" || !resource.items.all(i, i.x == 1) || resource.c == 1',
    "resource.items.exists(i, has(i.y) && resource.items.all(j, j.x == 1))",
    'resource.items.all(i, i.y == "z" || i.x == 1) && !resource.items.exists(i, i.x == 2)',
]
FIELDS: dict[str, list[Any]] = {
    "a": [MISSING, "x", "y", 1, None],
    "b": [MISSING, True, False, "true"],
    "c": [MISSING, 1, 1.0, "1", 0],
    "items": [MISSING, [], [{"x": 1}], [{"y": "z"}, {"x": 1, "y": "z"}], [{"x": 2}, {}], "xs", {"x": 1}],
    "t": [MISSING, "2020-01-01T00:00:00.000Z", "2026-11-20T00:00:00+01:00", "bad", 0],
}
RELATED: list[dict[str, Any]] = [{}, {"a": "x"}, {"a": 2}]


def resources() -> list[dict[str, Any]]:
    found = []
    for values in itertools.product(*FIELDS.values()):
        found.append({name: value for name, value in zip(FIELDS, values, strict=True) if value is not MISSING})
    return found


def outcome(function: Any, *arguments: Any) -> Any:
    try:
        value = function(*arguments)
    except Exception as err:
        return ("error", type(err).__name__)
    return value if value is True or value is False else ("value", repr(value))


def test_fast_forms_decide_like_the_exact_code() -> None:
    """Batch decisions and expression values with fast forms equal the exact code's on every resource shape."""
    trees = [compile_condition(condition).tree for condition in CONDITIONS]
    decide = batch_binder(trees)(NOW)
    exact = [value_function(tree, VARIABLES, checked=False, fast=False) for tree in trees]
    quick = [value_function(tree, VARIABLES, checked=False) for tree in trees]
    raised = decided = 0
    for data in resources():
        for related in RELATED:
            decisions = decide(data, related)
            for index, condition in enumerate(CONDITIONS):
                expected = outcome(exact[index], data, related, NOW)
                assert outcome(quick[index], data, related, NOW) == expected, (condition, data, related)
                decision = decisions[index]
                got = decision if decision is True or decision is False else "undecided"
                assert got == (expected if expected is True or expected is False else "undecided"), (
                    condition,
                    data,
                    related,
                )
                raised += isinstance(expected, tuple)
                decided += expected is True or expected is False
    assert raised > 1_000 and decided > 10_000  # both the fast path and the exact fallback were exercised


def test_an_error_the_other_side_decides_is_absorbed_after_the_fast_form_raised() -> None:
    """`error && false` is false and `error || true` is true, though Python's and/or raise on the first operand."""
    conditions = ["resource.missing == 1 && resource.b == false", "resource.missing == 1 || resource.b == false"]
    decide = batch_binder([compile_condition(c).tree for c in conditions])(NOW)
    first, second = decide({"b": True}, {})  # `resource.b == false` is false
    assert first is False  # error && false
    assert second not in (True, False)  # error || false
    first, second = decide({"b": False}, {})  # `resource.b == false` is true
    assert first not in (True, False)  # error && true
    assert second is True  # error || true


def test_quantifiers_and_the_operators_around_them_have_lean_fast_forms() -> None:
    """`exists`/`all` with a bool predicate run as a plain loop that breaks at the deciding element, and an `&&`
    around one still short-circuits (the loop sits in an `if`), instead of the exact per-element bookkeeping."""
    tree = compile_condition("resource.b == false && !resource.items.exists(i, i.x == 1)").tree
    decide = batch_binder([tree])(NOW)
    run = decide.__globals__["__source__"].split("def _run(", 2)[-1]
    assert "break" in run and "with_traceback" not in run
    assert decide({"b": True, "items": "not a list"}, {}) == (False,)  # decided before the loop would fail
    assert decide({"b": False, "items": [{"y": 1}, {"x": 1}]}, {}) == (False,)  # the exact form absorbs {"y": 1}
    assert decide({"b": False, "items": [{"x": 2}]}, {}) == (True,)
