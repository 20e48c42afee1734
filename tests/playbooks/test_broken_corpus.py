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
    assert result.playbooks == [] and result.workflows == []
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


def test_corpus_covers_every_broken_workflow_issue_13_names() -> None:
    """Cycles, unknown steps (needs, then, cases, a for_each body), unknown outputs and inputs, CEL type errors and
    an irreversible action without an approval (straight, on another branch, in a for_each body) are all there."""
    names = {p.stem for p in BROKEN.glob("workflow_*.yaml")}
    assert {
        "workflow_cycle",
        "workflow_unknown_step_in_needs",
        "workflow_unknown_step_in_then",
        "workflow_unknown_step_in_cases",
        "workflow_unknown_step_in_for_each_body",
        "workflow_unknown_output",
        "workflow_unknown_input_in_call",
        "workflow_cel_number_plus_text",
        "workflow_cel_text_input_compared_with_number",
        "workflow_cel_bool_output_equals_text",
        "workflow_irreversible_without_approval",
        "workflow_irreversible_on_the_other_branch",
        "workflow_irreversible_in_for_each_body",
    } <= names
