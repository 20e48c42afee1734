"""A run's inputs: `k=v` pairs or a file, checked against the workflow's JSON Schema before anything starts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from mendflow.errors import InputError
from mendflow.redaction import holds_secret
from mendflow.userfiles import read_text

NOT_STORED = (
    "holds a secret (a registered secret or a vendor token): it would be stored in the run's history — give a "
    "reference to it (an id), never the secret itself"
)


def schema_problem(schema: Mapping[str, Any]) -> tuple[tuple[str | int, ...], str] | None:
    """Where and why an inputs schema is not a valid JSON Schema (draft 2020-12) of an object, or None."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        return tuple(err.absolute_path), f"not a valid JSON Schema: {err.message}"
    if schema.get("type") != "object":
        return ("type",) if "type" in schema else (), "the inputs schema must describe an object (type: object)"
    return None


def property_names(schema: Mapping[str, Any]) -> frozenset[str] | None:
    """The inputs a workflow declares (`properties`), which expressions may read; None when it declares none."""
    properties = schema.get("properties")
    return frozenset(properties) if isinstance(properties, dict) else None


def parse_pairs(pairs: Iterable[str], schema: Mapping[str, Any]) -> dict[str, Any]:
    """`name=value` pairs; a value is text for a string input, otherwise read as JSON (`3`, `true`, `["a"]`)."""
    properties = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--input {pair!r}: write NAME=VALUE")
        name = name.strip()
        kind = (properties.get(name) or {}).get("type", "string")
        if kind == "string":
            out[name] = value
            continue
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value  # the schema check names the field and the type it wants
    return out


def check_inputs(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs if they match the schema, with the `default` of each declared input not given filled in (so
    expressions read `inputs.x` without `has()`); InputError naming the field (`inputs.user_id: …`) otherwise."""
    error = best_match(Draft202012Validator(schema).iter_errors(dict(values)))
    if error is not None:
        raise InputError(f"{_field(error)}: {error.message}")
    properties = schema.get("properties") or {}
    defaults = {
        name: spec["default"] for name, spec in properties.items() if isinstance(spec, dict) and "default" in spec
    }
    return {**defaults, **values}


def secret_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where strings inside a JSON-like value hold a secret (`holds_secret`), as key paths."""
    if isinstance(value, str):
        if holds_secret(value):
            yield path
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from secret_paths(item, (*path, str(key)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from secret_paths(item, (*path, index))


def refuse_secrets(values: Mapping[str, Any]) -> None:
    """InputError naming the first input that holds a secret (the value itself is never repeated)."""
    for path in secret_paths(values, ("inputs",)):
        raise InputError(f"{'.'.join(str(part) for part in path)}: {NOT_STORED}")


def _field(error: ValidationError) -> str:
    path = ["inputs", *(str(part) for part in error.absolute_path)]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            path.append(str(missing[0]))
    return ".".join(path)


def read_inputs(pairs: Iterable[str], path: Path | None, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A run's inputs from `--input-file` (a JSON or YAML mapping) and `--input NAME=VALUE` pairs (which win),
    checked against the schema: InputError naming the field or the file otherwise."""
    given: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(read_text(path, what="inputs file"))
        except yaml.YAMLError as err:
            raise InputError(f"{path}: inputs are not valid JSON or YAML: {err}") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: inputs must be a mapping of name: value")
        given = {str(k): v for k, v in data.items()}
    given.update(parse_pairs(pairs, schema))
    refuse_secrets(given)  # before the schema check, whose message may quote the value
    return check_inputs(schema, given)
