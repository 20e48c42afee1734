"""What both kinds of playbook (detection and `kind: Workflow`) are built from: one model base and its wording.

`Part` refuses unknown keys with the likely intended one and rewords pydantic's Python-speak for people writing
YAML; every error keeps a stable `type` and a `loc`, which the loader turns into file:line:column
(`ERRORS_AT_KEY` point at the key, `ERRORS_IN_TEXT` at a character inside the value).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidatorFunctionWrapHandler, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from mendflow.playbooks.typecheck import TYPE_PROBLEMS

ERRORS_AT_KEY = frozenset({"unknown_key", "unknown_parameter", "duplicate_key"})
"""Error types about a key itself (a misspelling): the loader points at the key, not at its value."""

ERRORS_IN_TEXT = frozenset({"cel_syntax", "unknown_field", "unknown_param", *TYPE_PROBLEMS})
"""Error types whose context carries an `offset` inside the value (a CEL condition): the loader points there."""


def closest(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The choice most similar to `word` (difflib ratio at least `cutoff`), if any."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """` — did you mean 'x'?` for the closest choice, or an empty string when nothing is close."""
    match = closest(word, choices, cutoff=cutoff)
    return f" — did you mean {match!r}?" if match else ""


def custom_error(kind: str, message: str, loc: tuple[str | int, ...], value: Any, **ctx: Any) -> InitErrorDetails:
    """A model check's error in the shape pydantic reports (`kind` is its stable `type`)."""
    return InitErrorDetails(type=PydanticCustomError(kind, message, ctx or None), loc=loc, input=value)


# pydantic's wording for a wrong YAML type is about Python ("a valid dictionary or instance of Detect").
_EXPECTED = {
    "model_type": "a mapping (key: value)",
    "dict_type": "a mapping (key: value)",
    "string_type": "text",
    "tuple_type": "a list",
    "list_type": "a list",
}


def yaml_kind(value: Any) -> str:
    """What a YAML value is, in the words of someone writing YAML."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class Part(BaseModel):
    """Base of every playbook model: immutable, unknown keys refused with a suggestion of the intended one."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, use_attribute_docstrings=True
    )

    @model_validator(mode="wrap")
    @classmethod
    def _explain_keys(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as err:
            raise ValidationError.from_exception_data(cls.__name__, _explained(cls, err)) from None


def _explained(model: type[BaseModel], err: ValidationError) -> list[InitErrorDetails]:
    """Reword pydantic's "extra inputs" / "field required" for this model's own keys; keep everything else.

    A misspelt key also makes the intended one "missing"; only the misspelling is reported then.
    """
    keys = [field.alias or name for name, field in model.model_fields.items()]
    items = err.errors()
    intended = {
        str(item["loc"][0]): closest(str(item["loc"][0]), keys)
        for item in items
        if item["type"] == "extra_forbidden" and len(item["loc"]) == 1
    }
    details: list[InitErrorDetails] = []
    for item in items:
        loc = tuple(item["loc"])
        own_key = len(loc) == 1
        if item["type"] == "extra_forbidden" and own_key:
            key = str(loc[0])
            hint = f" — did you mean {intended[key]!r}?" if intended[key] else ""
            message = f"unknown key {key!r}{hint} (expected: {', '.join(keys)})"
            details.append(custom_error("unknown_key", message, loc, item["input"]))
        elif item["type"] == "missing" and own_key:
            if loc[0] not in intended.values():
                details.append(custom_error("missing_key", f"missing required key {loc[0]!r}", loc, item["input"]))
        elif item["type"] in _EXPECTED:
            message = f"expected {_EXPECTED[item['type']]}, got {yaml_kind(item['input'])}"
            details.append(custom_error(item["type"], message, loc, item["input"]))
        else:
            ctx = item.get("ctx") if item["type"] in ERRORS_IN_TEXT else None
            details.append(custom_error(item["type"], item["msg"], loc, item["input"], **(ctx or {})))
    return details


__all__ = ["ERRORS_AT_KEY", "ERRORS_IN_TEXT", "Part", "closest", "custom_error", "did_you_mean", "yaml_kind"]
