"""Load playbook YAML files, reporting every problem as `file:line:column: message`.

The YAML is composed into nodes first (they carry marks), then validated by the pydantic models; each
validation error's `loc` is walked back through the nodes to the key or value it is about. A broken file never
stops the others: `load_playbooks` returns the good playbooks and one error per problem.

Test cases beside a playbook (`NAME.tests.yaml` next to `NAME.yaml`) are loaded and checked with it and added to
its `tests`; they are never loaded as playbooks themselves.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mendflow.errors import InputError, PlaybookError
from mendflow.playbooks.model import CHECK_FIELDS, ERRORS_AT_KEY, Playbook, PlaybookTests, case_problems
from mendflow.userfiles import DepthCheckedLoader, node_at, read_text

M = TypeVar("M", bound=BaseModel)

PLAYBOOK_SUFFIXES = (".yaml", ".yml")
TESTS_SUFFIXES = (".tests.yaml", ".tests.yml")
"""Files of test cases beside a playbook: `repo_hook_insecure_ssl.tests.yaml`."""


def is_tests_file(path: Path) -> bool:
    """True for a `NAME.tests.yaml` file (test cases, not a playbook)."""
    return path.name.endswith(TESTS_SUFFIXES)


def tests_file_for(path: Path) -> Path | None:
    """The test-case file beside a playbook, if there is one."""
    stem = path.name.removesuffix(path.suffix)
    for suffix in TESTS_SUFFIXES:
        candidate = path.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None


@dataclass
class LoadResult:
    """The playbooks that loaded, and every problem found in the ones that did not."""

    playbooks: list[Playbook] = field(default_factory=list)
    errors: list[PlaybookError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def bundled_playbook_dir() -> Path:
    """The rule packs shipped with mendflow (the top-level `playbooks/` folder, packaged as mendflow.rulepacks)."""
    return Path(str(importlib.resources.files("mendflow.rulepacks")))


def load_playbooks(paths: Iterable[Path]) -> LoadResult:
    """Load files and folders (folders: every *.yaml / *.yml below them, in sorted order).

    Ids must be unique across everything loaded: a second playbook with an id already seen is an error that names
    the first file, and only the first is kept.
    """
    result = LoadResult()
    first_seen: dict[str, Path] = {}
    for path in _expand(paths, result.errors):
        try:
            playbook, root = _load(path)
        except _Problems as problems:
            result.errors.extend(issue.error() for issue in problems.issues)
            continue
        earlier = first_seen.get(playbook.id)
        if earlier is not None:
            node = node_at(root, ("id",), at_key=False)
            message = f"duplicate playbook id {playbook.id!r}: already defined in {earlier}"
            result.errors.append(_positioned(path, node, message).error())
            continue
        first_seen[playbook.id] = path
        result.playbooks.append(playbook)
    return result


def load_playbook_file(path: Path) -> Playbook:
    """Load one file; raises PlaybookError for its first problem (the message counts the others)."""
    try:
        return _load(path)[0]
    except _Problems as problems:
        first, rest = problems.issues[0], len(problems.issues) - 1
        more = f" (and {rest} more problem{'s' if rest > 1 else ''} in this file)" if rest else ""
        raise first.error(more) from None


@dataclass(frozen=True)
class _Issue:
    """One problem before it becomes a PlaybookError (whose message already has the position baked in)."""

    message: str
    path: str
    line: int = 0
    column: int = 0

    def error(self, suffix: str = "") -> PlaybookError:
        return PlaybookError(self.message + suffix, path=self.path, line=self.line, column=self.column)


class _Problems(Exception):
    def __init__(self, issues: list[_Issue]) -> None:
        super().__init__(f"{len(issues)} problems")
        self.issues = issues


def _expand(paths: Iterable[Path], errors: list[PlaybookError]) -> Iterator[Path]:
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix in PLAYBOOK_SUFFIXES and p.is_file() and not is_tests_file(p)
            )
        elif is_tests_file(path):
            playbook = path.name.removesuffix(".yml").removesuffix(".yaml").removesuffix(".tests")
            message = f"this file holds test cases, not a playbook: give its playbook ({playbook}.yaml) instead"
            errors.append(PlaybookError(message, path=str(path)))
            continue
        elif path.is_file():
            found = [path]
        else:
            errors.append(PlaybookError("no such file or folder", path=str(path)))
            continue
        for candidate in found:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                yield candidate


def _load(path: Path) -> tuple[Playbook, MappingNode]:
    """Parse and validate one file and the test cases beside it; raises _Problems with every error of both files at
    once (the playbook's in file order, then the test file's), not one stage or one file at a time."""
    issues: list[_Issue] = []
    playbook, root, _ = _validated(path, Playbook, issues)
    beside = tests_file_for(path)
    cases = None
    if beside is not None:
        cases, tests_root, text = _validated(beside, PlaybookTests, issues)
        if cases is not None and tests_root is not None and playbook is not None:
            problems = case_problems(cases.tests, playbook.resource, playbook.respond, playbook.params)
            located = [_locate(beside, text, tests_root, _details(item)) for item in problems]
            issues.extend(sorted(located, key=lambda i: (i.line, i.column)))
    if issues or playbook is None or root is None:
        raise _Problems(issues)
    if cases is None:
        return playbook, root
    return playbook.model_copy(update={"tests": playbook.tests + cases.tests}), root


def _validated(path: Path, model: type[M], issues: list[_Issue]) -> tuple[M | None, MappingNode | None, str]:
    """The validated model, the document's nodes and its text; every problem is added to `issues` (model None when any).

    Duplicate keys and the models' own errors are reported together; only unreadable or unparsable YAML stops
    the file early, since nothing after it can be located."""
    try:  # size-capped, binary and non-UTF-8 refused, before YAML sees a byte
        text = read_text(path, what="playbook" if model is not PlaybookTests else "test-case file")
    except InputError as err:
        issues.append(_Issue(str(err).removeprefix(f"{path}: "), path=str(path)))
        return None, None, ""
    try:
        root, data = _compose(path, text, tests=model is PlaybookTests)
    except _Problems as problems:
        issues.extend(problems.issues)
        return None, None, text
    found = list(_duplicate_keys(path, root))
    loaded: M | None = None
    try:
        loaded = model.model_validate(data, context={"source": path, CHECK_FIELDS: True})
    except ValidationError as err:
        found.extend(_locate(path, text, root, item) for item in err.errors())
    issues.extend(sorted(found, key=lambda i: (i.line, i.column)))
    return (None if found else loaded), root, text


def _details(item: InitErrorDetails) -> ErrorDetails:
    """An error built by the models' checks, in the shape pydantic reports errors."""
    error = ValidationError.from_exception_data("PlaybookTests", [item]).errors()[0]
    return error


def _compose(path: Path, text: str, *, tests: bool = False) -> tuple[MappingNode, object]:
    """The document's node tree (it keeps the marks) and the plain data built from it."""
    loader = DepthCheckedLoader(text)  # deep nesting is a YAML error with a position, not a RecursionError
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "cannot parse"
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise _Problems([_Issue(f"invalid YAML: {problem}", path=str(path), line=line, column=column)]) from None
    except yaml.YAMLError as err:
        raise _Problems([_Issue(f"invalid YAML: {err}", path=str(path), line=1, column=1)]) from None
    finally:
        loader.dispose()
    what = "a test-case file is a mapping (tests: [...])" if tests else "a playbook is a mapping"
    if node is None:
        raise _Problems([_Issue(f"the file is empty; {what}", path=str(path), line=1, column=1)])
    if not isinstance(node, MappingNode):
        kind = "a list" if isinstance(node, SequenceNode) else "a single value"
        keys = "tests" if tests else "apiVersion, id, title, resource, detect, …"
        message = f"{'a test-case file' if tests else 'a playbook'} must be a mapping ({keys}), not {kind}"
        raise _Problems([_positioned(path, node, message)])
    return node, data


def _duplicate_keys(path: Path, node: Node) -> Iterator[_Issue]:
    """YAML quietly keeps the last of two equal keys; a playbook author almost certainly did not mean that."""
    if isinstance(node, MappingNode):
        seen: dict[object, Node] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                if key.value in seen:
                    first = seen[key.value].start_mark.line + 1
                    yield _positioned(path, key, f"duplicate key {key.value!r} (first given on line {first})")
                else:
                    seen[key.value] = key
            yield from _duplicate_keys(path, value)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(path, item)


def _locate(path: Path, text: str, root: MappingNode, item: ErrorDetails) -> _Issue:
    loc = tuple(item["loc"])
    at_key = item["type"] in ERRORS_AT_KEY
    node = node_at(root, loc, at_key=at_key)
    dotted = ".".join(str(part) for part in (loc[:-1] if at_key or item["type"] == "missing_key" else loc))
    message = f"{dotted}: {item['msg']}" if dotted else item["msg"]
    offset = (item.get("ctx") or {}).get("offset")
    if isinstance(offset, int) and isinstance(node, ScalarNode):
        line, column = _position_in_scalar(text, node, offset)
        return _Issue(message, path=str(path), line=line, column=column)
    return _positioned(path, node, message)


def _positioned(path: Path, node: Node, message: str) -> _Issue:
    mark = node.start_mark
    return _Issue(message, path=str(path), line=mark.line + 1, column=mark.column + 1)


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
