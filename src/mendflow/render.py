"""Plain-text tables for people: fixed columns, long cells shortened in the middle, no colour codes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def shorten(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    keep = width - 1
    return text[: keep // 2] + "…" + text[len(text) - (keep - keep // 2) :]


def compact(value: Any) -> str:
    """A short, readable rendering of a JSON value (`{"insecure_ssl": "1"}` → `insecure_ssl=1`)."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={compact(v)}" for k, v in value.items()) or "-"
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, max_width: Sequence[int] | None = None) -> str:
    limits = list(max_width) if max_width else [60] * len(headers)
    cells = [[shorten(str(c), limits[i]) for i, c in enumerate(row)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    return "\n".join([line, rule, *body])


def diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    """`insecure_ssl: 1 → 0; content_type: form → json` for the fields a change writes."""
    keys = list(dict.fromkeys([*before, *after]))
    return "; ".join(f"{k}: {compact(before.get(k))} → {compact(after.get(k))}" for k in keys) or "-"
