"""Keep secrets out of everything we write: logs, exceptions, Temporal payloads, reports.

Secrets are registered once, when they are resolved from their reference (`SecretRef`), and every writer
passes its text through `redact`. Known token shapes (GitHub, Slack, Okta SSWS, bearer headers) are masked
too, so a secret that was never registered still does not leak.
"""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "[REDACTED]"

_PATTERNS = (
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    re.compile(r"\bxapp-[A-Za-z0-9-]{10,}\b"),
    re.compile(r"\bmfp_[A-Za-z0-9_-]{20,}"),  # mendflow personal API tokens
    re.compile(r"(?i)\b(bearer|token|ssws)\s+[A-Za-z0-9._~+/=-]{8,}"),
)
_SENSITIVE_KEYS = re.compile(r"(?i)(token|secret|password|authorization|api[_-]?key|private[_-]?key)")

_SHORTEST_SHAPE = 13
"""No token shape above matches fewer characters (`ssws`, a space and 8): shorter text is checked for registered
secrets only (most values a record redacts are short: flags, names, ids)."""

_lock = threading.Lock()
_known: set[str] = set()
_longest_first: tuple[str, ...] = ()
"""The registered secrets, longest first (a secret containing another is masked whole); rebuilt on registration,
read without the lock (a tuple is replaced, never changed)."""


def register_secret(value: str) -> None:
    """Remember a secret value so that `redact` masks it wherever it appears."""
    global _longest_first
    if len(value) >= 4:
        with _lock:
            if value not in _known:
                _known.add(value)
                _longest_first = tuple(sorted(_known, key=len, reverse=True))


def redact(text: str) -> str:
    """Mask registered secrets and known token shapes in `text`."""
    for secret in _longest_first:
        if secret in text:
            text = text.replace(secret, MASK)
    if len(text) < _SHORTEST_SHAPE:
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def holds_secret(text: str) -> bool:
    """Whether `text` holds a registered secret or a vendor token's shape — text that must not be stored at all (a
    run's inputs, a workflow definition). The generic `token …` pattern is left out: prose about tokens matches it."""
    with _lock:
        if any(secret in text for secret in _known):
            return True
    return any(pattern.search(text) for pattern in _PATTERNS[:4])


def redact_value(value: Any, *, key: str = "") -> Any:
    """Redact a JSON-like value recursively; values under secret-sounding keys are masked whole."""
    if isinstance(value, str):
        if key and _SENSITIVE_KEYS.search(key) and value and value != "********":
            return MASK
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, key=key) for v in value]
    return value
