"""Playbook YAML with positions: read a file, compose its nodes, validate a model, point each error at its place.

    read_document(path) ─> Document (text, nodes, plain data) ─> validate(document, Model) ─> model | Issues

Both kinds of playbook (detection and `kind: Workflow`) and their test-case files go through here, so every
problem reads the same: `file:line:column: key.path: message`. A model error's `loc` is walked back through the
nodes (they keep the marks) to the key or value it is about; an `offset` in its context (a CEL expression) is
mapped to the character inside the value, whatever the scalar's YAML style.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mendflow.errors import InputError, PlaybookError
from mendflow.playbooks.base import ERRORS_AT_KEY
from mendflow.userfiles import DepthCheckedLoader, node_at, read_text

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Issue:
    """One problem before it becomes a PlaybookError (whose message already has the position baked in)."""

    message: str
    path: str
    line: int = 0
    column: int = 0

    def error(self, suffix: str = "") -> PlaybookError:
        return PlaybookError(self.message + suffix, path=self.path, line=self.line, column=self.column)


class Issues(Exception):
    """Every problem of a file at once (raised where nothing further can be checked)."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__(f"{len(issues)} problems")
        self.issues = issues


@dataclass(frozen=True)
class Document:
    """One YAML file: its text, its node tree (with marks) and the plain data built from it."""

    path: Path
    text: str
    root: MappingNode
    data: dict[str, Any]


def first_error(issues: list[Issue]) -> PlaybookError:
    """The first problem as an error whose message counts the others in the file."""
    first, rest = issues[0], len(issues) - 1
    return first.error(f" (and {rest} more problem{'s' if rest > 1 else ''} in this file)" if rest else "")


def read_document(path: Path, issues: list[Issue], *, tests: bool = False) -> Document | None:
    """The file read and composed, or None with the reason added to `issues` (unreadable or unparsable YAML stops
    the file early: nothing after it can be located). `tests`: a test-case file, for the wording."""
    try:  # size-capped, binary and non-UTF-8 refused, before YAML sees a byte
        text = read_text(path, what="test-case file" if tests else "playbook")
    except InputError as err:
        issues.append(Issue(str(err).removeprefix(f"{path}: "), path=str(path)))
        return None
    try:
        root, data = _compose(path, text, tests=tests)
    except Issues as problems:
        issues.extend(problems.issues)
        return None
    return Document(path, text, root, data)


def validate(document: Document, model: type[M], issues: list[Issue], *, context: dict[str, Any]) -> M | None:
    """The validated model, or None with every problem (duplicate keys and the model's own errors together, in
    file order) added to `issues`."""
    found = list(_duplicate_keys(document.path, document.root))
    loaded: M | None = None
    try:
        loaded = model.model_validate(document.data, context={"source": document.path, **context})
    except ValidationError as err:
        found.extend(locate(document, item) for item in err.errors())
    issues.extend(sorted(found, key=lambda i: (i.line, i.column)))
    return None if found else loaded


def details(item: InitErrorDetails) -> ErrorDetails:
    """An error built by a model's checks, in the shape pydantic reports errors."""
    error: ErrorDetails = ValidationError.from_exception_data("Playbook", [item]).errors()[0]
    return error


def locate(document: Document, item: ErrorDetails) -> Issue:
    """An error placed at its key (ERRORS_AT_KEY, missing keys), its value, or a character inside the value."""
    loc = tuple(item["loc"])
    at_key = item["type"] in ERRORS_AT_KEY
    node = node_at(document.root, loc, at_key=at_key)
    dotted = ".".join(str(part) for part in (loc[:-1] if at_key or item["type"] == "missing_key" else loc))
    message = f"{dotted}: {item['msg']}" if dotted else item["msg"]
    offset = (item.get("ctx") or {}).get("offset")
    if isinstance(offset, int) and isinstance(node, ScalarNode):
        line, column = _position_in_scalar(document.text, node, offset)
        return Issue(message, path=str(document.path), line=line, column=column)
    return positioned(document.path, node, message)


def positioned(path: Path, node: Node, message: str) -> Issue:
    """A problem at the start of a node."""
    mark = node.start_mark
    return Issue(message, path=str(path), line=mark.line + 1, column=mark.column + 1)


def _compose(path: Path, text: str, *, tests: bool) -> tuple[MappingNode, dict[str, Any]]:
    loader = DepthCheckedLoader(text)  # deep nesting is a YAML error with a position, not a RecursionError
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "cannot parse"
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise Issues([Issue(f"invalid YAML: {problem}", path=str(path), line=line, column=column)]) from None
    except yaml.YAMLError as err:
        raise Issues([Issue(f"invalid YAML: {err}", path=str(path), line=1, column=1)]) from None
    finally:
        loader.dispose()
    what = "a test-case file is a mapping (tests: [...])" if tests else "a playbook is a mapping"
    if node is None:
        raise Issues([Issue(f"the file is empty; {what}", path=str(path), line=1, column=1)])
    if not isinstance(node, MappingNode) or not isinstance(data, dict):
        kind = "a list" if isinstance(node, SequenceNode) else "a single value"
        keys = "tests" if tests else "apiVersion, id, title, resource, detect, …"
        message = f"{'a test-case file' if tests else 'a playbook'} must be a mapping ({keys}), not {kind}"
        raise Issues([positioned(path, node, message)])
    return node, data


def _duplicate_keys(path: Path, node: Node) -> Iterator[Issue]:
    """YAML quietly keeps the last of two equal keys; a playbook author almost certainly did not mean that."""
    if isinstance(node, MappingNode):
        seen: dict[object, Node] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                if key.value in seen:
                    first = seen[key.value].start_mark.line + 1
                    yield positioned(path, key, f"duplicate key {key.value!r} (first given on line {first})")
                else:
                    seen[key.value] = key
            yield from _duplicate_keys(path, value)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(path, item)


def _position_in_scalar(text: str, node: ScalarNode, offset: int) -> tuple[int, int]:
    """File line/column of character `offset` of a scalar's value, whatever its style (plain, quoted, `|`, `>`).

    The value's non-blank characters appear in the source in the same order; quotes, escapes, indentation and
    folded line breaks are what lies between them. Aligning the two gives each value character its source index.
    """
    value: str = node.value
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("|", ">"):  # skip the block header (`|-`, `>2`, …) so it is not matched
        start = text.index("\n", start, end) + 1 if "\n" in text[start:end] else start
    source_index: dict[int, int] = {}
    cursor = start
    for position, char in enumerate(value):
        if char.isspace():
            continue
        while cursor < end and text[cursor] != char:
            cursor += 1
        if cursor >= end:
            break
        source_index[position] = cursor
        cursor += 1
    anchor = max((p for p in source_index if p <= offset), default=None)
    if anchor is None:
        index = node.start_mark.index
    else:
        index = source_index[anchor] + (offset - anchor)
        line_end = text.find("\n", source_index[anchor])
        if line_end != -1:
            index = min(index, line_end)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column
