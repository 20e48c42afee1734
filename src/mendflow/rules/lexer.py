"""CEL tokens: numbers, (raw, triple-quoted, bytes) strings with escapes, identifiers, operators, comments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mendflow.rules.values import UINT_MAX, UInt


class SyntaxProblem(Exception):
    """A lexing or parsing error at a 0-based character offset."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """`int`, `uint`, `double`, `string`, `bytes`, `ident`, `eof`, or the operator text itself (`==`, `(`, …)."""
    value: Any
    offset: int
    end: int


RESERVED = frozenset(
    {
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    }
)
"""Words CEL keeps for itself: never an identifier (they may still name a field after `.`)."""

_OPERATORS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", ".", ",")
_BRACKETS = "()[]{}"
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "?": "?",
    '"': '"',
    "'": "'",
    "`": "`",
}
_HEX = frozenset("0123456789abcdefABCDEF")
_IDENT_START = frozenset("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")


def tokenize(source: str) -> list[Token]:
    """All tokens of an expression, ending with an `eof` token; SyntaxProblem at the first bad character."""
    tokens: list[Token] = []
    position = 0
    length = len(source)
    while True:
        position = _skip_space(source, position)
        if position >= length:
            tokens.append(Token("eof", None, length, length))
            return tokens
        char = source[position]
        if char in _DIGITS or (char == "." and source[position + 1 : position + 2].isdigit()):
            token = _number(source, position)
        elif char in "\"'" or (char in "rRbB" and _string_prefix(source, position) is not None):
            token = _string(source, position)
        elif char in _IDENT_START:
            end = position + 1
            while end < length and source[end] in _IDENT_CHARS:
                end += 1
            token = Token("ident", source[position:end], position, end)
        elif char in _BRACKETS:
            token = Token(char, char, position, position + 1)
        else:
            token = _operator(source, position)
        tokens.append(token)
        position = token.end


def _skip_space(source: str, position: int) -> int:
    length = len(source)
    while position < length:
        char = source[position]
        if char in " \t\n\r\f":
            position += 1
        elif source.startswith("//", position):
            newline = source.find("\n", position)
            position = length if newline < 0 else newline + 1
        else:
            break
    return position


def _operator(source: str, position: int) -> Token:
    for text in _OPERATORS:
        if source.startswith(text, position):
            return Token(text, text, position, position + len(text))
    char = source[position]
    hint = {"=": " (use '==' to compare)", "&": " (use '&&')", "|": " (use '||')"}.get(char, "")
    raise SyntaxProblem(f"CEL syntax error: unexpected character {char!r}{hint}", position)


def _number(source: str, start: int) -> Token:
    length = len(source)
    position = start
    if source.startswith(("0x", "0X"), start):
        position = start + 2
        while position < length and source[position] in _HEX:
            position += 1
        if position == start + 2:
            raise SyntaxProblem("CEL syntax error: malformed hexadecimal number", start)
        value = int(source[start + 2 : position], 16)
        return _integer(source, start, position, value)
    while position < length and source[position] in _DIGITS:
        position += 1
    is_double = False
    if position + 1 < length and source[position] == "." and source[position + 1] in _DIGITS:
        is_double = True
        position += 1
        while position < length and source[position] in _DIGITS:
            position += 1
    if position < length and source[position] in "eE":
        exponent = position + 1
        if exponent < length and source[exponent] in "+-":
            exponent += 1
        if exponent < length and source[exponent] in _DIGITS:
            is_double = True
            position = exponent
            while position < length and source[position] in _DIGITS:
                position += 1
    text = source[start:position]
    if is_double:
        return Token("double", float(text), start, position)
    return _integer(source, start, position, int(text))


def _integer(source: str, start: int, position: int, value: int) -> Token:
    if position < len(source) and source[position] in "uU":
        if value > UINT_MAX:
            raise SyntaxProblem("CEL syntax error: uint literal out of range", start)
        return Token("uint", UInt(value), start, position + 1)
    # Range is checked by the parser, which knows whether a minus sign precedes the literal.
    return Token("int", value, start, position)


def _string_prefix(source: str, position: int) -> tuple[bool, bool, int] | None:
    """(raw, bytes, quote offset) when a string literal with r/b prefixes starts here."""
    raw = is_bytes = False
    index = position
    for _ in range(2):
        char = source[index : index + 1]
        if char in ("r", "R") and not raw:
            raw = True
        elif char in ("b", "B") and not is_bytes:
            is_bytes = True
        else:
            break
        index += 1
    if index > position and source[index : index + 1] in ("'", '"'):
        return raw, is_bytes, index
    return None


def _string(source: str, start: int) -> Token:
    prefix = _string_prefix(source, start)
    raw, is_bytes, quote_at = prefix if prefix is not None else (False, False, start)
    quote = source[quote_at]
    delimiter = quote * 3 if source.startswith(quote * 3, quote_at) else quote
    position = quote_at + len(delimiter)
    chunks: list[str | bytes] = []
    length = len(source)
    while True:
        if position >= length:
            raise SyntaxProblem("CEL syntax error: unterminated string", start)
        if source.startswith(delimiter, position):
            break
        char = source[position]
        if char in "\r\n" and len(delimiter) == 1:
            raise SyntaxProblem("CEL syntax error: unterminated string", start)
        if char == "\\" and not raw:
            chunk, position = _escape(source, position, is_bytes)
            chunks.append(chunk)
            continue
        chunks.append(char)
        position += 1
    end = position + len(delimiter)
    if is_bytes:
        data = b"".join(c if isinstance(c, bytes) else c.encode("utf-8") for c in chunks)
        return Token("bytes", data, start, end)
    return Token("string", "".join(str(c) for c in chunks), start, end)


def _escape(source: str, position: int, is_bytes: bool) -> tuple[str | bytes, int]:
    """One escape sequence at `position` (a backslash) → its text (or byte) and the position after it."""
    code = source[position + 1 : position + 2]
    if code in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[code], position + 2
    if code in ("x", "X", "u", "U"):
        digits = {"x": 2, "X": 2, "u": 4, "U": 8}[code]
        text = source[position + 2 : position + 2 + digits]
        if len(text) != digits or not all(c in _HEX for c in text):
            raise SyntaxProblem("CEL syntax error: malformed escape sequence", position)
        value = int(text, 16)
        if code in ("x", "X"):
            return (bytes([value]) if is_bytes else chr(value)), position + 2 + digits
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise SyntaxProblem("CEL syntax error: invalid Unicode code point in escape", position)
        return chr(value), position + 2 + digits
    text = source[position + 1 : position + 4]
    if len(text) == 3 and text[0] in "0123" and all(c in "01234567" for c in text):
        value = int(text, 8)
        return (bytes([value]) if is_bytes else chr(value)), position + 4
    raise SyntaxProblem("CEL syntax error: invalid escape sequence", position)
