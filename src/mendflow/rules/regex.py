"""`matches()` with RE2 semantics, run by Python's `re` where the two provably agree (it is ~10x faster).

Every pattern is checked by RE2 (google-re2), so a pattern RE2 refuses (backreferences, lookaround) is an
error even when Python could run it. A pattern in a conservative subset (ASCII, literals, `.`, classes without
nested-set syntax, groups, greedy/lazy quantifiers, `^`, `$`, `\\d\\w\\s\\b` and punctuation escapes, an optional
leading `(?i)`) is translated for `re` (`$` becomes `\\Z`, ASCII classes) and used on ASCII subjects, where the
engines give the same answer; anything else, and any non-ASCII subject, goes to RE2.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from mendflow.rules.values import CelError

try:  # google-re2 is a declared dependency; without it, fall back to Python's re for every pattern.
    import re2 as _re2  # type: ignore[import-untyped, unused-ignore]
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    _re2 = None

_CLASS_ESCAPES = frozenset("dDwWsSbB")
_TEXT_ESCAPES = frozenset("ntrfv")
_PUNCTUATION = frozenset("\\.+*?()[]{}|^$-/:#&~,='\"!@%<>;_`")


class Pattern:
    """A compiled `matches()` pattern: `search(text)` is true when the pattern matches anywhere in `text`."""

    __slots__ = ("_fast", "_slow", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._slow: Any = None
        if _re2 is not None:
            try:
                self._slow = _re2.compile(source)
            except Exception as err:  # re2 raises its own error type (and TypeError for odd input)
                raise CelError(f"invalid regular expression {source!r}: {err}") from None
        translated = _translate(source)
        self._fast: re.Pattern[str] | None = None
        if translated is not None or self._slow is None:
            try:
                self._fast = re.compile(translated if translated is not None else source, re.ASCII)
            except re.error as err:
                raise CelError(f"invalid regular expression {source!r}: {err}") from None

    def search(self, text: str) -> bool:
        if self._fast is not None and (self._slow is None or text.isascii()):
            return self._fast.search(text) is not None
        return self._slow.search(text) is not None


@functools.lru_cache(maxsize=512)
def compile_pattern(source: str) -> Pattern:
    return Pattern(source)


def matches(text: Any, pattern: Any) -> bool:
    if text.__class__ is not str or pattern.__class__ is not str:
        from mendflow.rules.runtime import no_overload

        raise no_overload("matches", text, pattern)
    return compile_pattern(pattern).search(text)


def _translate(source: str) -> str | None:
    """The pattern rewritten for Python's re (ASCII mode), or None when it is outside the safe subset."""
    if not source.isascii():
        return None
    out: list[str] = []
    position = 0
    if source.startswith("(?i)"):
        out.append("(?i)")
        position = 4
    length = len(source)
    while position < length:
        char = source[position]
        if char == "\\":
            escaped = source[position + 1 : position + 2]
            if escaped == "z":
                out.append(r"\Z")
            elif escaped in _CLASS_ESCAPES or escaped in _TEXT_ESCAPES or escaped in _PUNCTUATION:
                if not escaped:
                    return None
                out.append(source[position : position + 2])
            elif escaped == "A":
                out.append(r"\A")
            else:
                return None
            position += 2
        elif char == "[":
            end = _class_end(source, position)
            if end is None:
                return None
            out.append(source[position:end])
            position = end
        elif char == "(":
            if source.startswith("(?:", position):
                out.append("(?:")
                position += 3
            elif source.startswith("(?", position):
                return None
            else:
                out.append("(")
                position += 1
        elif char == "{":
            end = source.find("}", position)
            body = source[position + 1 : end] if end > 0 else ""
            if not re.fullmatch(r"\d+(,\d*)?", body):
                return None
            out.append(source[position : end + 1])
            position = end + 1
        elif char == "$":
            out.append(r"\Z")
            position += 1
        else:
            out.append(char)
            position += 1
    return "".join(out)


def _class_end(source: str, start: int) -> int | None:
    """The index after a simple character class starting at `start`, or None if it is not simple."""
    position = start + 1
    if source[position : position + 1] == "^":
        position += 1
    if source[position : position + 1] == "]":
        position += 1
    while position < len(source):
        char = source[position]
        if char == "]":
            body = source[start + 1 : position]
            if any(mark in body for mark in ("[", "--", "&&", "~~", "||")):
                return None
            return position + 1
        if char == "\\":
            escaped = source[position + 1 : position + 2]
            if not escaped or not (escaped in "dDwWsS" or escaped in _PUNCTUATION or escaped in _TEXT_ESCAPES):
                return None
            position += 2
            continue
        position += 1
    return None
