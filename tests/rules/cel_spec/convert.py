"""Convert the cel-spec conformance files in testdata/ (protobuf text format) into cases.jsonl.

Run once after updating testdata/: `.venv/bin/python tests/rules/cel_spec/convert.py`. Each output line is

    {"id": "file/section/test", "expr": "...", "bindings": {name: VALUE}, "expect": {"value": VALUE} | {"error": "..."},
     "skip": "reason"}        # "skip" only when the case needs something this engine does not have

with VALUE a tagged JSON encoding that keeps CEL's types apart: {"int": "12"}, {"uint": "12"}, {"double": 1.5 |
"NaN" | "Infinity" | "-Infinity" | "-0"}, {"string": "..."}, {"bytes": "<base64>"}, {"bool": true},
{"null": null}, {"list": [VALUE, ...]}, {"map": [[VALUE, VALUE], ...]}, {"type": "int"}.
"""

from __future__ import annotations

import base64
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
Message = list[tuple[str, Any]]
"""A parsed text-format message: (field name, scalar or sub-message) pairs, repeated fields repeated."""

_PROTO_TYPES = re.compile(r"\b(TestAllTypes|NestedTestAllTypes|google\.protobuf\.|protobuf\.Any)")
_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
    r"""|(?P<name>\[[^\]]*\]|[A-Za-z_][\w.]*)|(?P<number>-?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)|-?inf\b)"""
    r"""|(?P<punct>[{}:,;<>-])""",
)


def tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot read text format at {text[position : position + 30]!r}")
        position = match.end()
        kind = match.lastgroup
        if kind is not None:
            out.append((kind, match.group(kind)))
    return out


def unescape(literal: str) -> bytes:
    """A text-format string literal (C escapes; octal and \\x are bytes, \\u/\\U are UTF-8) → its bytes."""
    body = literal[1:-1]
    out = bytearray()
    position = 0
    simple = {"n": b"\n", "t": b"\t", "r": b"\r", "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v"}
    while position < len(body):
        char = body[position]
        if char != "\\":
            out += char.encode("utf-8")
            position += 1
            continue
        code = body[position + 1]
        if code in simple:
            out += simple[code]
            position += 2
        elif code in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[position + 1 :])
            assert digits is not None
            out.append(int(digits.group(), 8))
            position += 1 + len(digits.group())
        elif code in "xX":
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[position + 2 :])
            assert digits is not None
            out.append(int(digits.group(), 16))
            position += 2 + len(digits.group())
        elif code in "uU":
            width = 4 if code == "u" else 8
            out += chr(int(body[position + 2 : position + 2 + width], 16)).encode("utf-8")
            position += 2 + width
        else:
            out += code.encode("utf-8")
            position += 2
    return bytes(out)


def parse_message(items: list[tuple[str, str]], position: int, close: str | None) -> tuple[Message, int]:
    message: Message = []
    while position < len(items):
        kind, text = items[position]
        if close is not None and kind == "punct" and text == close:
            return message, position + 1
        if kind == "punct" and text in ",;":
            position += 1
            continue
        if kind != "name":
            raise ValueError(f"expected a field name, got {text!r}")
        name = text
        position += 1
        if items[position] == ("punct", ":"):
            position += 1
        kind, text = items[position]
        if kind == "punct" and text in "{<":
            sub, position = parse_message(items, position + 1, "}" if text == "{" else ">")
            message.append((name, sub))
        elif kind == "string":
            data = b""
            while position < len(items) and items[position][0] == "string":
                data += unescape(items[position][1])
                position += 1
            message.append((name, data))
        else:
            message.append((name, text))
            position += 1
    return message, position


def first(message: Message, name: str) -> Any:
    return next((value for key, value in message if key == name), None)


def every(message: Message, name: str) -> list[Any]:
    return [value for key, value in message if key == name]


def text_of(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def double(text: str) -> Any:
    number = float(text.replace("Infinity", "inf"))
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0 and math.copysign(1.0, number) < 0:
        return "-0"
    return number


class Unsupported(Exception):
    """A value this engine cannot represent (a protobuf message, an enum)."""


def value(message: Message) -> dict[str, Any]:
    """A cel.expr.Value message → the tagged JSON encoding."""
    (field, content), *_ = message or [("list_value", [])]
    if field == "int64_value":
        return {"int": str(int(content))}
    if field == "uint64_value":
        return {"uint": str(int(content))}
    if field == "double_value":
        return {"double": double(str(content))}
    if field == "string_value":
        return {"string": text_of(content)}
    if field == "bytes_value":
        return {"bytes": base64.b64encode(content).decode("ascii")}
    if field == "bool_value":
        return {"bool": content == "true"}
    if field == "null_value":
        return {"null": None}
    if field == "type_value":
        return {"type": text_of(content)}
    if field == "list_value":
        return {"list": [value(item) for item in every(content, "values")]}
    if field == "map_value":
        entries = every(content, "entries")
        return {"map": [[value(first(entry, "key")), value(first(entry, "value"))] for entry in entries]}
    raise Unsupported(f"{field} values need protobuf support")


def case(file: str, section: str, test: Message) -> dict[str, Any]:
    name = text_of(first(test, "name"))
    expr = text_of(first(test, "expr"))
    out: dict[str, Any] = {"id": f"{file}/{section}/{name}", "expr": expr, "bindings": {}}
    reasons = []
    if first(test, "container") is not None:
        reasons.append("needs a protobuf container (message types)")
    if _PROTO_TYPES.search(expr):
        reasons.append("constructs or names protobuf messages")
    try:
        for binding in every(test, "bindings"):
            out["bindings"][text_of(first(binding, "key"))] = value(first(first(binding, "value"), "value"))
        if (expected := first(test, "value")) is not None:
            out["expect"] = {"value": value(expected)}
        elif (typed := first(test, "typed_result")) is not None:
            out["expect"] = {"value": value(first(typed, "result"))}
        elif (error := first(test, "eval_error")) is not None:
            messages = [text_of(first(e, "message")) for e in every(error, "errors")]
            out["expect"] = {"error": "; ".join(messages)}
        else:
            reasons.append("checks types only (no evaluation result)")
    except Unsupported as err:
        reasons.append(str(err))
    if reasons:
        out["skip"] = "; ".join(dict.fromkeys(reasons))
    return out


def convert(path: Path) -> list[dict[str, Any]]:
    document, _ = parse_message(tokens(path.read_text(encoding="utf-8")), 0, None)
    file = text_of(first(document, "name"))
    return [
        case(file, text_of(first(section, "name")), test)
        for section in every(document, "section")
        for test in every(section, "test")
    ]


def main() -> None:
    cases = [item for path in sorted((HERE / "testdata").glob("*.textproto")) for item in convert(path)]
    with (HERE / "cases.jsonl").open("w", encoding="utf-8") as out:
        for item in cases:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    skipped = sum(1 for item in cases if "skip" in item)
    print(f"{len(cases)} cases ({skipped} to skip) → {HERE / 'cases.jsonl'}", file=sys.stderr)


if __name__ == "__main__":
    main()
