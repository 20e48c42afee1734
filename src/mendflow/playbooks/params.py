"""Organisation policy as typed playbook parameters: `params:` in a playbook, `params.NAME` in its condition.

Which repositories may be public, which webhook hosts are approved: that differs per organisation, so a playbook
declares it as a parameter (a JSON Schema with a `default`) and each tenant may override the value in
`mendflow.yaml` (`policy:`). A parameter is a constant for one tenant, so it is bound into the condition as a CEL
literal before the condition is compiled: the engine, the field catalogue and the schema type checker then see an
ordinary condition (`resource.name in ["docs", "site"]`), and the evaluation costs nothing extra.

Offsets of problems found in the bound text are mapped back to the text the author wrote (`Bound.original`).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from mendflow.rules.lexer import SyntaxProblem, Token, tokenize

ROOT = "params"
"""The CEL name parameters are read through: `params.allowed_hosts`."""

TYPES = ("string", "integer", "number", "boolean", "array", "object")
"""JSON Schema types a parameter may have (one of them, named by `type`)."""


@dataclass(frozen=True)
class Reference:
    """`params.NAME` at `offset` (of `params`) in a condition."""

    name: str
    offset: int
    end: int


@dataclass(frozen=True)
class Bound:
    """A condition with its parameter references replaced by literals, and how to map offsets back."""

    text: str
    spans: tuple[tuple[int, int, int, int], ...]
    """(original start, original end, bound start, bound end) of each replacement, in order."""

    def original(self, offset: int) -> int:
        """The offset in the author's text of `offset` in the bound text (a replaced literal maps to its `params`)."""
        shift = 0
        for start, end, bound_start, bound_end in self.spans:
            if offset < bound_start:
                break
            if offset < bound_end:
                return start
            shift = end - bound_end
        return offset + shift


@functools.lru_cache(maxsize=1024)
def references(condition: str) -> tuple[Reference, ...]:
    """Every `params.NAME` of a condition (a bare `params` or `params[...]` is a Reference with an empty name)."""
    try:
        tokens = tokenize(condition)
    except SyntaxProblem:
        return ()
    found: list[Reference] = []
    for index, token in enumerate(tokens):
        if token.kind != "ident" or token.value != ROOT or _after_dot(tokens, index):
            continue
        dot, name = _at(tokens, index + 1), _at(tokens, index + 2)
        if dot is not None and dot.kind == "." and name is not None and name.kind == "ident":
            found.append(Reference(str(name.value), token.offset, name.end))
        else:
            found.append(Reference("", token.offset, token.end))
    return tuple(found)


def bind(condition: str, values: Mapping[str, Any]) -> Bound:
    """The condition with each `params.NAME` replaced by the CEL literal of `values[NAME]`; unknown names and bare
    `params` become `null` (the playbook model refuses them before anything is evaluated)."""
    parts: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    cursor = length = 0
    for ref in references(condition):
        literal = cel_literal(values[ref.name]) if ref.name in values else "null"
        parts.append(condition[cursor : ref.offset])
        length += ref.offset - cursor
        spans.append((ref.offset, ref.end, length, length + len(literal)))
        parts.append(literal)
        length += len(literal)
        cursor = ref.end
    parts.append(condition[cursor:])
    return Bound("".join(parts), tuple(spans))


def cel_literal(value: Any) -> str:
    """The CEL source of a JSON value: `"a"`, `3`, `2.5`, `true`, `null`, `["a", "b"]`, `{"k": 1}`."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no CEL literal")
        text = repr(value)
        return text if any(c in text for c in ".e") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # CEL reads UTF-8 as is; it has no surrogate-pair escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cel_literal(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{cel_literal(str(k))}: {cel_literal(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"a {type(value).__name__} has no CEL literal")


def schema_problems(schema: Mapping[str, Any]) -> list[str]:
    """What is wrong with a parameter's declaration (its JSON Schema, which must name a `type` and a `default`)."""
    problems: list[str] = []
    kind = schema.get("type")
    if kind not in TYPES:
        problems.append(f"'type' must be one of {', '.join(TYPES)} (got {kind!r})")
    if "default" not in schema:
        problems.append("a parameter needs a 'default' (the value used when a tenant does not override it)")
    try:
        Draft202012Validator.check_schema(dict(schema))
    except SchemaError as err:
        problems.append(f"not a valid JSON Schema: {err.message}")
    if not problems:
        problems += [f"default{where}: {message}" for where, message in value_problems(schema, schema["default"])]
    return problems


def value_problems(schema: Mapping[str, Any], value: Any, *, quote: bool = True) -> list[tuple[str, str]]:
    """Why `value` does not fit the parameter's schema: (path inside the value such as `[2]` or "", message).
    `quote=False` words the message from the schema alone (config files never have their values echoed)."""
    validator = Draft202012Validator(dict(schema))
    out: list[tuple[str, str]] = []
    for error in sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "".join(f"[{json.dumps(p)}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
        message = error.message if quote else f"must satisfy {error.validator}: {json.dumps(error.validator_value)}"
        out.append((where, message))
    return out


def _after_dot(tokens: list[Token], index: int) -> bool:
    return index > 0 and tokens[index - 1].kind == "."


def _at(tokens: list[Token], index: int) -> Token | None:
    return tokens[index] if index < len(tokens) else None
