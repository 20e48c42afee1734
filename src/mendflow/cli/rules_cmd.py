"""`mendflow rules eval --cases FILE.jsonl`: evaluate CEL expressions with the rule engine, one per line."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TextIO

import typer

from mendflow.errors import InputError
from mendflow.rules.cel import ConditionError, EvaluationError, Expression, compile_expression
from mendflow.rules.timefmt import format_duration, format_timestamp
from mendflow.rules.values import CelType, Duration, Timestamp, UInt

MAX_LINE = 16 * 1024 * 1024
"""Longest case line read (one CEL expression with its variables); past it the file is refused."""

app = typer.Typer(help="Work with the CEL rule engine.", no_args_is_help=True)

EVAL_HELP = "\n\n".join(
    (
        'Evaluate CEL expressions: each input line is {"id": ..., "expr": "CEL", "vars": {name: JSON}} and gives one '
        'output line {"id": ..., "value": ...} or {"id": ..., "error": "..."}, in order.',
        "Variables are plain JSON, used as the rule engine uses vendor data: a JSON integer is a CEL int, a number "
        "with a fraction or exponent a CEL double, objects are maps.",
        "Values print as JSON: int as an integer; uint also as an integer (it is not marked); double always with a "
        "decimal point or exponent (1.0, 1e+100), and NaN, Infinity, -Infinity as JSON's usual extensions; bytes as "
        '{"bytes": BASE64}; timestamp as {"timestamp": RFC3339}; duration as {"duration": "1.5s"}; a type as '
        '{"type": NAME}; a map whose keys are not all strings as {"map": [[KEY, VALUE], ...]}.',
        'A line that is not valid input gives {"id": ID-or-null, "error": "line N: ..."} and the run goes on.',
    )
)


@app.command("eval", help=EVAL_HELP)
def eval_cases(
    cases: Annotated[Path, typer.Option("--cases", help="JSON Lines file of cases, or - for standard input.")],
) -> None:
    if str(cases) == "-":
        _run(case_lines(sys.stdin.buffer, "standard input"), sys.stdout)
        return
    try:
        with cases.open("rb") as handle:
            _run(case_lines(handle, str(cases)), sys.stdout)
    except OSError as err:
        raise InputError(f"cannot read {cases}: {err.strerror or err}") from None


def case_lines(handle: BinaryIO, name: str) -> Iterator[str]:
    """The file's lines as text, one at a time; a binary, non-UTF-8 or absurdly long line ends the run (exit 2).

    A malformed *case* is answered on its own line and the run goes on; a file that is not UTF-8 JSON Lines at
    all is the caller's mistake, named once with its line and byte offset.
    """
    offset = 0
    for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE + 1), b""), start=1):
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            raise InputError(f"{name}: line {number} is longer than {MAX_LINE // (1024 * 1024)} MiB")
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise InputError(f"{name}: line {number} (byte offset {offset + nul}): binary data, not JSON Lines")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(f"{name}: line {number} (byte offset {offset + err.start}): not UTF-8 text") from None
        offset += len(raw)


def _run(lines: Iterable[str], out: TextIO) -> None:
    cache: dict[tuple[str, tuple[str, ...]], Expression] = {}
    for result in evaluate_lines(lines, cache):
        out.write(json.dumps(result, ensure_ascii=False) + "\n")


def evaluate_lines(
    lines: Iterable[str], cache: dict[tuple[str, tuple[str, ...]], Expression] | None = None
) -> Iterator[dict[str, Any]]:
    """One result object per non-blank input line (compiled expressions are reused for repeated inputs)."""
    compiled = cache if cache is not None else {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        case_id: Any = None
        try:
            case = _decode(line)
            if not isinstance(case, dict):
                raise ValueError("a case must be a JSON object")
            case_id = case.get("id")
            expr, variables = case.get("expr"), case.get("vars", {})
            if not isinstance(expr, str):
                raise ValueError('"expr" must be a string')
            if not isinstance(variables, dict):
                raise ValueError('"vars" must be an object')
        except ValueError as err:
            yield {"id": case_id, "error": f"line {number}: {err}"}
            continue
        key = (expr, tuple(sorted(variables)))
        try:
            if key not in compiled:
                compiled[key] = compile_expression(expr, variables)
            value = compiled[key].evaluate(variables)
        except ConditionError as err:
            yield {"id": case_id, "error": f"{err.message} (at offset {err.offset})"}
            continue
        except EvaluationError as err:
            yield {"id": case_id, "error": str(err)}
            continue
        yield {"id": case_id, "value": encode(value)}


def _decode(line: str) -> Any:
    """One case; nesting deeper than the engine accepts is a bad line, not a crash of the run."""
    try:
        return json.loads(line)
    except RecursionError:
        raise ValueError(f"nested deeper than the JSON decoder allows ({sys.getrecursionlimit()} levels)") from None


def encode(value: Any) -> Any:
    """A CEL value as JSON (see the command's help for the encoding of non-JSON types)."""
    kind = value.__class__
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is UInt:
        return int(value)
    if kind is bytes:
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        if all(key.__class__ is str for key in value):
            return {key: encode(item) for key, item in value.items()}
        return {"map": [[encode(key), encode(item)] for key, item in value.items()]}
    if kind is Timestamp:
        return {"timestamp": format_timestamp(value.ns)}
    if kind is Duration:
        return {"duration": format_duration(value.ns)}
    if kind is CelType:
        return {"type": value.name}
    return repr(value)
