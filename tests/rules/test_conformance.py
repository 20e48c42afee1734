"""The official cel-spec conformance cases (tests/rules/cel_spec/cases.jsonl, converted from cel-spec's
tests/simple/testdata) run through the rule engine's compiler: every case that does not need protobuf passes,
or is listed with a reason in cel_spec/known_failures.txt."""

from __future__ import annotations

import base64
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mendflow.rules.cel import ConditionError, EvaluationError, compile_expression, parse_expression
from mendflow.rules.program import value_function
from mendflow.rules.values import TYPES, CelType, UInt

DATA = Path(__file__).parent / "cel_spec"
MINIMUM_PASS_RATE = 0.97


def load_cases() -> list[dict[str, Any]]:
    lines = (DATA / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def load_known_failures() -> dict[str, str]:
    known = {}
    for line in (DATA / "known_failures.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            case_id, _, reason = line.partition(" ")
            known[case_id] = reason.strip()
    return known


CASES = load_cases()
KNOWN_FAILURES = load_known_failures()


def decode(tagged: dict[str, Any]) -> Any:
    """The tagged JSON encoding of cases.jsonl → an engine value."""
    ((kind, raw),) = tagged.items()
    if kind == "int":
        return int(raw)
    if kind == "uint":
        return UInt(int(raw))
    if kind == "double":
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}.get(raw, raw) * 1.0
    if kind == "bytes":
        return base64.b64decode(raw)
    if kind == "list":
        return [decode(item) for item in raw]
    if kind == "map":
        return {decode(key): decode(value) for key, value in raw}
    if kind == "type":
        return TYPES[raw]
    return raw  # string, bool, null


def same(actual: Any, expected: dict[str, Any]) -> bool:
    """Equal in value and in CEL type (1 and 1u and 1.0 are different results)."""
    ((kind, raw),) = expected.items()
    want = decode(expected)
    if kind == "double":
        return actual.__class__ is float and (
            (math.isnan(actual) and math.isnan(want))
            or (actual == want and math.copysign(1.0, actual) == math.copysign(1.0, want))
        )
    if kind == "list":
        return isinstance(actual, list) and len(actual) == len(raw) and all(map(same, actual, raw))
    if kind == "map":
        if not isinstance(actual, dict) or len(actual) != len(raw):
            return False
        for key, value in raw:
            matching = [k for k in actual if same(k, key)]
            if len(matching) != 1 or not same(actual[matching[0]], value):
                return False
        return True
    if kind == "type":
        return isinstance(actual, CelType) and actual is want
    classes = {"int": int, "uint": UInt, "string": str, "bytes": bytes, "bool": bool, "null": type(None)}
    return actual.__class__ is classes[kind] and actual == want


def outcome(case: dict[str, Any], *, path: str = "normal") -> tuple[str, Any]:
    """("value", v) or ("error", message) for one case: through `compile_expression` (path "normal"), or
    without constant folding through the fast ("unfolded") or the precise-error ("checked") generated code."""
    bindings = {name: decode(value) for name, value in case["bindings"].items()}
    try:
        if path != "normal":
            names = tuple(sorted(bindings))
            tree = parse_expression(case["expr"])
            run = value_function(tree, names, checked=path == "checked", fold_constants=False)
            return "value", run(*(bindings[name] for name in names))
        return "value", compile_expression(case["expr"], bindings).evaluate(bindings)
    except (EvaluationError, ConditionError) as err:
        return "error", str(err)
    except Exception as err:  # the checked path raises the CEL error itself
        return "error", f"{type(err).__name__}: {err}"


def passes(case: dict[str, Any], result: tuple[str, Any]) -> bool:
    kind, got = result
    if "error" in case["expect"]:
        return kind == "error"
    return kind == "value" and same(got, case["expect"]["value"])


@cache
def results() -> dict[str, bool]:
    return {case["id"]: passes(case, outcome(case)) for case in CASES if "skip" not in case}


def case_params() -> list[Any]:
    params = []
    for case in CASES:
        marks: list[Any] = []
        if "skip" in case:
            marks.append(pytest.mark.skip(reason=f"cel-spec case needs: {case['skip']}"))
        elif case["id"] in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[case["id"]], strict=True))
        params.append(pytest.param(case, id=case["id"], marks=marks))
    return params


@pytest.mark.parametrize("case", case_params())
def test_cel_spec_case(case: dict[str, Any]) -> None:
    """The engine's result (value and type, or an error) is the one the cel-spec case expects."""
    result = outcome(case)
    assert passes(case, result), f"{case['expr']!r} gave {result!r}, expected {case['expect']!r}"


@pytest.mark.parametrize("case", [c for c in CASES if "skip" not in c], ids=lambda c: c["id"])
@pytest.mark.parametrize("path", ["unfolded", "checked"])
def test_code_paths_agree(case: dict[str, Any], path: str) -> None:
    """Without constant folding, the fast code and the precise-error code (used to explain failures) give
    every case the same outcome as the normal path."""
    normal, other = outcome(case), outcome(case, path=path)
    assert normal[0] == other[0], (normal, other)
    if normal[0] == "value":
        assert passes({"expect": {"value": _tagged(normal[1])}}, other)


def test_conformance_pass_rate_and_known_failures_are_current() -> None:
    """At least 97% of the attempted cases pass; every known failure still fails (the list is not stale)."""
    outcomes = results()
    passed = sum(outcomes.values())
    attempted = len(outcomes)
    skipped = len(CASES) - attempted
    print(f"cel-spec conformance: {passed}/{attempted} passed ({passed / attempted:.1%}), {skipped} skipped")
    assert passed / attempted >= MINIMUM_PASS_RATE
    assert set(KNOWN_FAILURES) <= set(outcomes), "known_failures.txt names cases that are not attempted"
    assert {case for case, ok in outcomes.items() if not ok} == set(KNOWN_FAILURES)


def _tagged(value: Any) -> dict[str, Any]:
    """The tagged encoding of an engine value (inverse of decode, for comparing two engine results)."""
    if value is None:
        return {"null": None}
    kind = value.__class__
    if kind is bool:
        return {"bool": value}
    if kind is UInt:
        return {"uint": str(int(value))}
    if kind is int:
        return {"int": str(value)}
    if kind is float:
        if math.isnan(value):
            return {"double": "NaN"}
        if math.isinf(value) or (value == 0 and math.copysign(1.0, value) < 0):
            return {"double": {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "-0")}
        return {"double": value}
    if kind is bytes:
        return {"bytes": base64.b64encode(value).decode()}
    if kind is list:
        return {"list": [_tagged(item) for item in value]}
    if kind is dict:
        return {"map": [[_tagged(k), _tagged(v)] for k, v in value.items()]}
    if kind is CelType:
        return {"type": value.name}
    if kind is str:
        return {"string": value}
    return {"other": repr(value)}
