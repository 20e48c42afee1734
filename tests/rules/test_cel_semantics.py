"""CEL semantics of the rule engine: errors as values, heterogeneous equality, overflow, macros, has(), time,
parse errors, and the `mendflow rules eval` command."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mendflow.cli.main import app
from mendflow.cli.rules_cmd import evaluate_lines
from mendflow.rules import ConditionError, EvaluationError, compile_condition
from mendflow.rules.cel import compile_expression, timestamp
from mendflow.rules.program import batch_binder, value_function
from mendflow.rules.values import UInt

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def value(expr: str, **variables: Any) -> Any:
    return compile_expression(expr, variables).evaluate(variables)


def error(expr: str, **variables: Any) -> str:
    with pytest.raises(EvaluationError) as caught:
        value(expr, **variables)
    return str(caught.value)


def holds(condition: str, resource: dict[str, Any], related: dict[str, Any] | None = None) -> bool:
    variables = {"resource": resource, "related": related or {}, "now": timestamp(NOW)}
    return compile_condition(condition).evaluate(variables)


def test_false_and_error_is_false_whichever_side_errs() -> None:
    """`&&` is decided by a false operand even when the other one is an error, on either side."""
    assert value("false && 1/0 == 1") is False
    assert value("1/0 == 1 && false") is False
    assert value("x.missing && false", x={}) is False


def test_true_or_error_is_true_whichever_side_errs() -> None:
    """`||` is decided by a true operand even when the other one is an error, on either side."""
    assert value("true || 1/0 == 1") is True
    assert value("x.missing == 1 || true", x={}) is True
    assert value("f_unknown(1) || true") is True


def test_undecided_logical_operator_reports_the_error() -> None:
    """An error that no operand overrides is the result, and a non-bool operand is an error too."""
    assert "division by zero" in error("true && 1/0 == 1")
    assert "division by zero" in error("false || 1/0 == 1")
    assert "no matching overload" in error("'yes' || false")
    assert value("'yes' || true") is True


def test_numbers_compare_equal_across_int_uint_and_double() -> None:
    """Heterogeneous equality: 1 == 1u == 1.0, also inside lists and maps, and NaN equals nothing."""
    assert value("1 == 1.0") is True
    assert value("1u == 1") is True
    assert value("[1, 2.0] == [1.0, 2u]") is True
    assert value("{1: 'a'}[1.0]") == "a"
    assert value("0.0/0.0 == 0.0/0.0") is False
    assert value("x == 3", x=3.0) is True


def test_values_of_unrelated_types_are_unequal_rather_than_errors() -> None:
    """`==` across unrelated types is false: a string is not a number, a bool is not 0 or 1."""
    assert value("'1' == 1") is False
    assert value("true == 1") is False
    assert value("x == 0", x=False) is False
    assert value("x != 1", x=True) is True
    assert value("[true] == [1]") is False
    assert value("null == false") is False


def test_ordering_across_unrelated_types_is_an_error() -> None:
    """`<` has overloads only within a kind (and across numbers): anything else is no matching overload."""
    assert "no matching overload" in error("'a' < 1")
    assert "no matching overload" in error("x < 5", x="10")
    assert "no matching overload" in error("null < null")
    assert value("x < 5", x=4.5) is True
    assert value("1 < 2u && 2.5 > 2") is True


def test_int_overflow_is_an_error() -> None:
    """int is 64-bit: results outside [-2**63, 2**63) are errors, not big integers."""
    for expr in ("9223372036854775807 + 1", "-9223372036854775808 - 1", "5000000000 * 5000000000"):
        assert "overflow" in error(expr)
    assert "overflow" in error("-x", x=-(2**63))
    assert "overflow" in error("-9223372036854775808 / -1")
    assert "overflow" in error("0u - 1u")
    assert value("9223372036854775806 + 1") == 2**63 - 1


def test_integer_division_truncates_and_remainder_takes_the_dividend_sign() -> None:
    """-7 / 2 is -3 (not -4) and -7 % 2 is -1, as in C and Go."""
    assert value("-7 / 2") == -3
    assert value("-7 % 2") == -1
    assert value("7 % -2") == 1
    assert value("7u / 2u") == UInt(3)


def test_division_and_modulo_by_zero_are_errors_for_integers_only() -> None:
    """Integer /0 and %0 are errors; double division follows IEEE 754."""
    assert "division by zero" in error("1 / 0")
    assert "modulus by zero" in error("1 % 0")
    assert value("1.0 / 0.0") == math.inf
    assert value("-1.0 / 0.0") == -math.inf
    assert math.isnan(value("0.0 / 0.0"))
    assert "no matching overload" in error("1 + 1.0")


def test_exists_and_all_absorb_errors_like_or_and_and() -> None:
    """exists is true if some element matches though others err; all is false if some element fails."""
    assert value("[0, 1].exists(x, 1 / x == 1)") is True
    assert value("[0, 1].all(x, 1 / x == 2)") is False
    assert "division by zero" in error("[0, 1].exists(x, 1 / x == 2)")
    assert "division by zero" in error("[0, 1].all(x, 1 / x == 1)")


def test_exists_one_map_and_filter_propagate_errors() -> None:
    """exists_one, map and filter are strict: any element's error is the result."""
    assert value("[1, 2, 3].exists_one(x, x > 2)") is True
    assert value("[1, 2, 3].map(x, x * 10)") == [10, 20, 30]
    assert value("[1, 2, 3].map(x, x > 1, x * 10)") == [20, 30]
    assert value("[1, 2, 3].filter(x, x % 2 == 1)") == [1, 3]
    for expr in ("[0, 1].exists_one(x, 1 / x == 1)", "[0].map(x, 1 / x)", "[0].filter(x, 1 / x == 1)"):
        assert "division by zero" in error(expr)


def test_macros_over_a_map_range_over_its_keys_and_nest() -> None:
    """`m.all(k, …)` sees the keys; loop variables shadow variables of the same name."""
    assert value("{'a': 1, 'b': 2}.all(k, k in ['a', 'b'])") is True
    assert value("x.exists(x, x == 2)", x=[1, 2]) is True
    assert value("[[1, 2], [3]].all(l, l.exists(e, e > 0))") is True


def test_has_tests_presence_of_a_map_key_and_needs_a_map() -> None:
    """has(x.f) is true for a present key (even with a null value), false for an absent one; its operand must
    evaluate to a map."""
    assert value("has(x.f)", x={"f": None}) is True
    assert value("has(x.g)", x={"f": 1}) is False
    assert value("has(x.a.b)", x={"a": {}}) is False
    assert "no such key" in error("has(x.a.b)", x={})
    assert error("has(x.f)", x=None)
    assert error("has(x.f)", x=[1])


def test_missing_field_is_an_error_and_has_guards_it() -> None:
    """Selecting an absent key or a field of null fails with a message naming the field."""
    assert error("x.config.url", x={}) == "no such key: 'config' (test optional fields with has(...))"
    assert "'url'" in error("x.config.url", x={"config": None})
    assert value("has(x.config) && x.config.url == 'u'", x={}) is False


def test_time_rules_compare_against_now_and_durations() -> None:
    """timestamp() parses RFC 3339, now is the as-of time, and timestamp - duration stays a timestamp."""
    old = {"pushed_at": "2026-03-01T00:00:00Z"}
    assert holds('timestamp(resource.pushed_at) < now - duration("4320h")', old) is True
    assert holds('timestamp(resource.pushed_at) < now - duration("7000h")', old) is False
    assert holds('now - timestamp(resource.pushed_at) > duration("2h30m")', old) is True
    assert holds("timestamp(resource.pushed_at).getFullYear() == 2026 && now.getMonth() == 10", old) is True
    assert value("timestamp('2026-01-01T10:00:00+02:00') == timestamp('2026-01-01T08:00:00Z')") is True
    assert "invalid timestamp" in error("timestamp('yesterday')")
    assert "range" in error("timestamp('9999-12-31T23:59:59Z') + duration('1s')")


def test_rule_batches_decide_exactly_like_single_conditions() -> None:
    """The per-type generated function (with now-hoisting) matches each condition evaluated on its own."""
    conditions = [
        'resource.archived == false && timestamp(resource.pushed_at) < now - duration("720h")',
        "resource.size > 10 || resource.missing == 1",
        'related.rulesets.exists(r, r.enforcement == "active" && timestamp(r.at) > now - duration("1h"))',
        "resource.archived ? resource.size : false",
        "!resource.archived",
    ]
    resources = [
        {"archived": False, "pushed_at": "2026-01-01T00:00:00Z", "size": 3},
        {"archived": True, "pushed_at": "2026-11-20T11:59:00Z", "size": 30},
        {"archived": "no", "size": None},
        {},
    ]
    related_options = [{"rulesets": []}, {"rulesets": [{"enforcement": "active", "at": "2026-11-20T11:30:00Z"}]}, {}]
    decide = batch_binder([compile_condition(c).tree for c in conditions])(timestamp(NOW))
    for data, related in itertools.product(resources, related_options):
        batch = decide(data, related)
        for condition, decision in zip(conditions, batch, strict=True):
            try:
                single: Any = compile_condition(condition).evaluate(
                    {"resource": data, "related": related, "now": timestamp(NOW)}
                )
            except EvaluationError:
                single = "error"
            assert (decision if decision is True or decision is False else "error") == single, (condition, data)


def test_condition_must_come_out_as_a_bool() -> None:
    """A condition whose value is not a bool is an evaluation error, never coerced."""
    with pytest.raises(EvaluationError, match="condition returned int, not a bool"):
        holds("resource.size", {"size": 1})
    with pytest.raises(EvaluationError, match="no matching overload"):
        holds("resource.flag ? true : false", {"flag": "yes"})


def test_strings_count_code_points_and_match_with_re2_semantics() -> None:
    """size() counts code points; matches() is an unanchored RE2 search whose `$` ignores a final newline."""
    assert value("size('πέντε')") == 5
    assert value("'http://x'.matches('(?i)^HTTP://')") is True
    assert value("'abc\\n'.matches('c$')") is False
    assert value("'Straße'.matches('^stra')") is False
    assert value("'x-contractor'.matches('-(contractor|vendor)$')") is True
    assert value("'ab'.lowerAscii() + 'É'.upperAscii()") == "abÉ"


def test_in_checks_list_elements_and_map_keys() -> None:
    """`in` uses heterogeneous equality for lists and key presence for maps."""
    assert value("'write' in ['read', 'write']") is True
    assert value("2.0 in [1, 2]") is True
    assert value("'k' in {'k': 1}") is True
    assert value("1 in ['1']") is False


def test_conversions_check_ranges_and_formats() -> None:
    """int(), uint(), double(), string() convert exactly or fail; string(double) prints like CEL."""
    assert value("int('42') + int(2.9) + int(-2.9)") == 42
    assert "range" in error("uint(-1)")
    assert "cannot convert" in error("int('4 2')")
    assert value("string(1.5) + string(1e20) + string(2u)") == "1.51e+202"
    assert value("double('1e3')") == 1000.0
    assert value("type(1) == int && type(1u) == uint && type('') == string") is True


@pytest.mark.parametrize(
    ("source", "message", "offset"),
    [
        ('resource.a = "1"', "unexpected character '=' (use '==' to compare)", 11),
        ("resource.a == 1 &&", "ends too early", 18),
        ("resource.a == 'open", "unterminated string", 14),
        ("resource.a == 1 @ 2", "unexpected character '@'", 16),
        ("resorce.a == 1", "unknown variable 'resorce' — did you mean 'resource'?", 0),
        ("resource.a.startWith('x')", "unknown function 'startWith' — did you mean 'startsWith'?", 11),
        ("resource.a.matches('(')", "invalid regular expression", 19),
        ("size(resource.a, 2) == 1", "size() takes 1 argument(s), not 2", 0),
        ("resource.if == 1 || if", "'if' is a reserved word", 20),
        ("9223372036854775808 == resource.a", "int literal out of range", 0),
        ("resource.a == 1 resource.b", "unexpected 'resource'", 16),
        ("x.y{z: 1} == resource", "message construction is not supported", 3),
    ],
)
def test_parse_and_check_errors_point_at_the_problem(source: str, message: str, offset: int) -> None:
    """Problems are refused at load time with the 0-based offset of the offending character."""
    with pytest.raises(ConditionError) as caught:
        compile_condition(source)
    assert message in caught.value.message
    assert caught.value.offset == offset


def test_fast_and_precise_field_access_agree_on_wrong_shapes() -> None:
    """The fast path's subscripts fail exactly where the precise path (used for messages) reports an error."""
    tree = compile_condition("resource.a.b == 1").tree
    fast = value_function(tree, ("resource", "related", "now"), checked=False)
    precise = value_function(tree, ("resource", "related", "now"), checked=True)
    for shape in ({}, {"a": None}, {"a": "text"}, {"a": [1]}, {"a": 7}, {"a": {"b": 1}}, {"a": {"c": 1}}):
        outcomes = []
        for run in (fast, precise):
            try:
                outcomes.append(run(shape, {}, None))
            except Exception:
                outcomes.append("error")
        assert outcomes[0] == outcomes[1], shape


def test_rules_eval_prints_typed_values_and_reports_bad_lines(tmp_path: Path) -> None:
    """`mendflow rules eval` answers each line in order; bad lines get an error with their line number."""
    lines = [
        json.dumps({"id": "a", "expr": "x.n * 2", "vars": {"x": {"n": 21}}}),
        json.dumps({"id": "b", "expr": "[1.0, 2u, b'hi', {1: true}, duration('90s'), double('inf')]"}),
        "{not json",
        json.dumps({"id": "d", "expr": "x.missing", "vars": {"x": {}}}),
        json.dumps({"id": "e", "expr": "1 +", "vars": {}}),
    ]
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "eval", "--cases", str(cases)])
    assert result.exit_code == 0, result.output
    output = result.output.splitlines()
    assert output[0] == '{"id": "a", "value": 42}'
    assert output[1] == (
        '{"id": "b", "value": [1.0, 2, {"bytes": "aGk="}, {"map": [[1, true]]}, {"duration": "90s"}, Infinity]}'
    )
    assert json.loads(output[2]) == {
        "id": None,
        "error": "line 3: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    }
    assert json.loads(output[3])["error"].startswith("no such key: 'missing'")
    assert "ends too early" in json.loads(output[4])["error"]
    assert list(evaluate_lines(['{"id": 1, "expr": "1e100"}'])) == [{"id": 1, "value": 1e100}]
