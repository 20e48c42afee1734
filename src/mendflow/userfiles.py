"""Reading the small files a user hands the CLI (mendflow.yaml, tenants configs, criticality configs), safely.

Every problem is an `InputError` naming the file and where in it, and never quoting what the file says there:
pydantic's messages carry the offending input and PyYAML's carry a snippet of the line, and either may be a
token pasted where a secret reference belongs. Files are size-capped before they are read and nesting is capped
while they are parsed, so a binary, huge or hostile file costs a bounded amount of memory and one clear message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mendflow.errors import InputError

MAX_CONFIG_BYTES = 8 * 1024 * 1024
"""Configs are a few kilobytes; anything past this is a wrong file, refused before it is read."""
MAX_NESTING = 64
"""Deeper than any config we define; PyYAML builds nested nodes recursively, so deep input must stop early."""


def json_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a JSON path: `$.github.repos[2]._hooks[0].id`."""
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validation_problems(err: ValidationError, *, prefix: tuple[int | str, ...] = (), limit: int = 10) -> list[str]:
    """`$.path: message` per problem, built from location and message only (never pydantic's `input`)."""
    problems = [f"{json_path(prefix + tuple(item['loc']))}: {item['msg']}" for item in err.errors()[:limit]]
    if err.error_count() > limit:
        problems.append(f"… and {err.error_count() - limit} more")
    return problems


def read_text(path: Path, *, what: str, limit: int = MAX_CONFIG_BYTES) -> str:
    """The file as UTF-8 text; a missing, oversized, binary or non-UTF-8 file is one InputError."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as err:
        raise InputError(f"{path}: cannot read {what}: {err.strerror or err}") from None
    if len(data) > limit:
        raise InputError(f"{path}: too large for {what} (more than {limit // (1024 * 1024)} MiB)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(f"{path}: binary data at byte offset {nul}, not a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text (invalid byte at offset {err.start}), not a {what}") from None


class DepthCheckedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nested deeper than MAX_NESTING before composing them."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_NESTING:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ComposerError(None, None, f"nested deeper than {MAX_NESTING} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def parse_yaml(text: str, *, path: Path, what: str) -> Any:
    """The YAML document in `text`; errors give line:column and the problem, never the offending line."""
    loader = DepthCheckedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise InputError(f"{where}: not valid YAML for {what}: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML for {what}: {type(err).__name__}") from None
    finally:
        loader.dispose()


def load_yaml_file(path: Path, *, what: str) -> Any:
    """Read and parse a small YAML file; an empty file is `{}`."""
    return parse_yaml(read_text(path, what=what), path=path, what=what) or {}


def node_at(root: Node, loc: tuple[int | str, ...], *, at_key: bool) -> Node:
    """The YAML node a validation error's location names (its key when `at_key` and the last part is a key), or
    the deepest existing ancestor when the key is missing: what file:line:column points at."""
    node = root
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, MappingNode):
            match = next((kv for kv in node.value if isinstance(kv[0], ScalarNode) and kv[0].value == str(part)), None)
            if match is None:
                return node
            node = match[0] if last and at_key else match[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node
