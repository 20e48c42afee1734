"""Plain-text output for people: tables with fixed columns, one timestamp format, no colour codes.

Long free text is shortened in the middle; identifiers (resource paths, rule and campaign ids) never are, because
people copy them from the table into the next command.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

_IDENTIFIER = re.compile(r"[\w.:/@+=~-]+")
"""A cell with no spaces made of these characters is an id (`/repos/acme/api/hooks/11`, `remediate/github:…`)."""


def timestamp(moment: datetime) -> str:
    """The one timestamp format of CLI output: UTC, seconds, `Z` (`2026-11-20T00:00:00Z`), as in JSON output."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_identifier(text: str) -> bool:
    return bool(_IDENTIFIER.fullmatch(text))


def fit(text: str, width: int | None) -> str:
    """`text` within `width`, unless it is an identifier (kept whole) or there is no limit (None)."""
    if width is None or is_identifier(text):
        return text
    return shorten(text, width)


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


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, max_width: Sequence[int | None] | None = None
) -> str:
    """Columns padded to their widest cell; free text past its column's limit is shortened, ids never are."""
    limits = list(max_width) if max_width else [60] * len(headers)
    cells = [[fit(str(c), limits[i]) for i, c in enumerate(row)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    return "\n".join([line, rule, *body])


def diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    """`insecure_ssl: 1 → 0; content_type: form → json` for the fields a change writes."""
    keys = list(dict.fromkeys([*before, *after]))
    return "; ".join(f"{k}: {compact(before.get(k))} → {compact(after.get(k))}" for k in keys) or "-"
