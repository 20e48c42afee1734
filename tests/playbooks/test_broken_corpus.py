"""The corpus of broken playbooks: each file's single mistake is reported where and as its header says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mendflow.playbooks.loader import load_playbooks

BROKEN = Path(__file__).parent / "broken"
_EXPECT = re.compile(r"# expect: (\d+):(\d+) (.+)")


def expectation(path: Path) -> tuple[int, int, str]:
    match = _EXPECT.fullmatch(path.read_text(encoding="utf-8").splitlines()[0])
    assert match, f"{path.name}: the first line must be '# expect: LINE:COLUMN message'"
    return int(match.group(1)), int(match.group(2)), match.group(3)


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_broken_playbook_is_refused_with_the_expected_message_and_position(path: Path) -> None:
    """Exactly one error, at the line:column the header names, containing the header's message."""
    line, column, message = expectation(path)
    result = load_playbooks([path])
    assert result.playbooks == []
    assert [(e.line, e.column) for e in result.errors] == [(line, column)], [str(e) for e in result.errors]
    (error,) = result.errors
    assert message in str(error)
    assert str(error).startswith(f"{path}:{line}:{column}: ")


def test_corpus_covers_every_kind_of_mistake_the_brief_names() -> None:
    """Unknown keys, actions, parameters, CEL syntax and fields, durations, batches and test cases are all there."""
    names = {p.stem for p in BROKEN.glob("*.yaml")}
    assert {
        "unknown_key",
        "unknown_action",
        "unknown_parameter",
        "cel_syntax_error",
        "cel_unknown_field",
        "cel_unknown_nested_field",
        "bad_duration",
        "shrinking_batches",
        "duplicate_key",
        "test_case_id_of_another_type",
    } <= names
