"""Reading fields of a webhook payload, with errors that name the field (never its value)."""

from __future__ import annotations

import re
from typing import Any

_NAME = re.compile(r"[A-Za-z0-9._-]+")
"""GitHub logins and repository names, Okta ids: each becomes one segment of an API path."""


class PayloadError(ValueError):
    """A delivery whose JSON lacks what its event documents; `path` names the field (`repository.full_name`)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def field(payload: Any, *path: str) -> Any:
    """`payload[path[0]][path[1]]…`: a name or a number; PayloadError naming the path otherwise."""
    value = payload
    for depth, key in enumerate(path):
        if not isinstance(value, dict) or key not in value:
            raise PayloadError(".".join(path[: depth + 1]), "missing")
        value = value[key]
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise PayloadError(".".join(path), "expected a non-empty string or number")
    if isinstance(value, str) and (not _NAME.fullmatch(value) or value in (".", "..")):
        raise PayloadError(".".join(path), "not a name (letters, digits, '.', '_', '-')")
    return value


__all__ = ["PayloadError", "field"]
