"""Type errors in workflow CEL: what is refused at load, and what is left alone because it is not known."""

from __future__ import annotations

import pytest

from mendflow.responses.expression_types import input_kinds, type_errors
from mendflow.rules.cel import parse_expression

SCHEMA = {
    "type": "object",
    "properties": {
        "user": {"type": "string"},
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "dry": {"type": "boolean"},
        "hosts": {"type": "array"},
        "either": {"type": ["string", "null"]},
    },
}
STEPS = {"ok": "approve", "look": "read", "tell": "notify", "kids": "call"}


def _errors(source: str, *, guard: bool = False, items: bool = False) -> list[str]:
    want = "bool" if guard else "list" if items else None
    return [p.message for p in type_errors(parse_expression(source), input_kinds(SCHEMA), STEPS, want=want)]


@pytest.mark.parametrize(
    "source",
    [
        'inputs.user + "-suffix"',
        "inputs.count + inputs.ratio",
        "inputs.hosts + [1]",
        'steps.ok.status == "approved"',
        "steps.ok.output.approved == true",
        "steps.look.output.anything == 3",  # a read's vendor object: not known
        'steps.kids.output.steps.x == "y"',  # a child's outputs: not known
        "inputs.either == 3",  # more than one type: not known
        "inputs.user == null",
        'now - timestamp("2026-01-01T00:00:00Z") > duration("1h")',
        'inputs.hosts.exists(h, h == "a.example")',  # the loop variable is not known
        'string(inputs.count) + "a"',
        "size(inputs.user) > 3",
    ],
)
def test_well_typed_or_unknown_expressions_are_left_alone(source: str) -> None:
    """Nothing is reported where the kinds fit, or where a kind is not known before the run."""
    assert _errors(source) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('inputs.count + "a"', "cannot add a number and a string"),
        ("inputs.user * 2", "cannot multiply a string and a number"),
        ("inputs.user > 3", "compares a string with a number, so CEL refuses to order them"),
        ("inputs.count == '3'", "compares a number with a string, so `==` gives the same answer on every run"),
        ('steps.ok.output.approved == "true"', "compares a bool with a string"),
        ("inputs.dry != 'false'", "compare with true / false"),
        ("steps.tell.output.delivered && inputs.user + 1 == 2", "cannot add a string and a number"),
    ],
)
def test_mismatched_kinds_are_reported_with_a_fix(source: str, expected: str) -> None:
    """Adding or comparing values of two known, different kinds is reported, saying what to write instead."""
    (message,) = _errors(source)
    assert expected in message


def test_a_guard_must_be_a_bool_when_its_kind_is_known() -> None:
    """`when: inputs.user` is a string, never true; a bool input or an unknown value is fine."""
    assert _errors("inputs.user", guard=True) == ["a guard must be true or false, and this is a string: compare it "
                                                   "with a value"]  # fmt: skip
    assert _errors("inputs.dry", guard=True) == []
    assert _errors("steps.look.output.enabled", guard=True) == []


def test_the_offset_is_the_operator() -> None:
    """The error points at the operator, so the loader's column lands on it."""
    (problem,) = type_errors(parse_expression('inputs.count + "a"'), input_kinds(SCHEMA), STEPS)
    assert problem.offset == len("inputs.count ")


def test_for_each_items_must_be_a_list_when_their_kind_is_known() -> None:
    """`items: inputs.user` is one string, not a list to fan out over; a list input or an unknown value is fine."""
    assert _errors("inputs.user", items=True) == ["a for_each needs a list of items, and this is a string: "
                                                  "write [inputs.x] for one item, or map a list"]  # fmt: skip
    assert _errors("inputs.hosts", items=True) == []
    assert _errors("steps.look.output.items.map(u, u.id)", items=True) == []
