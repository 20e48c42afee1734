"""Response workflow files: what loads, and what is refused with file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from mendflow.errors import InputError, PlaybookError
from mendflow.responses import check_inputs, load_response_file, parse_pairs, response_problems, run_order

EXAMPLE = Path(__file__).parents[2] / "examples" / "responses" / "okta_api_token_compromise.yaml"
HEAD = """apiVersion: mendflow/v1
kind: Workflow
id: test.response
title: t
inputs:
  type: object
  properties: {user: {type: string}}
steps:
"""


def _problems(tmp_path: Path, steps: str, head: str = HEAD) -> list[str]:
    path = tmp_path / "w.yaml"
    path.write_text(head + steps)
    return [str(e).removeprefix(f"{path}:") for e in response_problems(path)]


def test_the_shipped_example_loads_in_dependency_order() -> None:
    """The example scenario loads; its run order respects needs and otherwise list order."""
    playbook = load_response_file(EXAMPLE)
    assert run_order(playbook) == [
        "token", "owner", "roles", "groups", "apps", "tokens", "events", "evidence", "approval", "revoke",
        "revoke_grants", "clear_sessions", "suspend", "tell_owner", "tell", "incident", "record",
    ]  # fmt: skip


def test_a_cycle_is_refused_at_the_step_that_closes_it(tmp_path: Path) -> None:
    """Two steps that need each other are a cycle, named in order."""
    steps = """  - {id: a, kind: wait, duration: 1s, needs: [b]}
  - {id: b, kind: wait, duration: 1s, needs: [a]}
"""
    assert _problems(tmp_path, steps) == ["9:46: steps.0.needs: steps a → b → a form a cycle"]


def test_unknown_needs_and_steps_in_expressions_get_a_suggestion(tmp_path: Path) -> None:
    """A misspelt step id in needs and in CEL is refused where it is written, with the intended id."""
    steps = """  - {id: lookup, kind: read, target: /api/v1/users/x}
  - id: later
    kind: notify
    needs: [lookpu]
    message: "hi ${{ steps.lookp.output.id }}"
"""
    found = _problems(tmp_path, steps)
    assert found == ["12:13: steps.1.needs.0: unknown step 'lookpu' — did you mean 'lookup'?"]
    fixed = steps.replace("lookpu", "lookup")
    assert _problems(tmp_path, fixed) == ["13:28: steps.1.message: unknown step 'lookp' — did you mean 'lookup'?"]


def test_an_output_field_a_kind_does_not_have_is_refused(tmp_path: Path) -> None:
    """`steps.<approve>.output.aproved` is not an output of an approve step."""
    steps = """  - {id: ok, kind: approve}
  - {id: say, kind: notify, when: steps.ok.output.aproved, message: done}
"""
    found = _problems(tmp_path, steps)
    assert len(found) == 1 and found[0].startswith("10:51: steps.1.when: the output of approve step 'ok' has no")
    assert "did you mean 'approved'?" in found[0]


def test_a_step_that_does_not_finish_first_cannot_be_read(tmp_path: Path) -> None:
    """Reading a step that runs later (or in parallel) is refused: its output would not exist yet."""
    steps = """  - {id: first, kind: notify, message: "${{ steps.second.status }}"}
  - {id: second, kind: wait, duration: 1s}
"""
    assert _problems(tmp_path, steps) == [
        "9:51: steps.0.message: step 'second' does not finish before 'first': add it to needs"
    ]


def test_an_irreversible_action_without_an_approval_before_it_is_refused(tmp_path: Path) -> None:
    """Revoking a token needs an approve step among the steps before it; with one, the file loads."""
    steps = """  - id: revoke
    kind: action
    action: okta.api_token.revoke
    target: /api/v1/api-tokens/${{ inputs.user }}
    with: {state: revoked}
"""
    found = _problems(tmp_path, steps)
    assert len(found) == 1 and found[0].startswith("11:13: steps.0.action: okta.api_token.revoke cannot be undone")
    assert _problems(tmp_path, "  - {id: ask, kind: approve}\n" + steps) == []


def test_a_parallel_approval_does_not_count(tmp_path: Path) -> None:
    """An approve step on another branch (not needed by the action) does not protect it."""
    steps = """  - {id: start, kind: wait, duration: 1s}
  - {id: ask, kind: approve, needs: [start]}
  - {id: revoke, kind: action, needs: [start], action: okta.api_token.revoke, target: /x, with: {state: revoked}}
"""
    found = _problems(tmp_path, steps)
    assert len(found) == 1 and "cannot be undone" in found[0]


def test_a_for_each_without_its_keys_is_refused_by_name(tmp_path: Path) -> None:
    """A for_each step names the keys it lacks (items, as, steps) where it is written."""
    found = _problems(tmp_path, "  - {id: many, kind: for_each}\n")
    assert len(found) == 1 and found[0].startswith("9:5: ")
    assert found[0].endswith("a for_each step needs 'as', 'items', 'steps'")


def test_unknown_inputs_cel_errors_and_bad_schemas_are_refused(tmp_path: Path) -> None:
    """An undeclared input, a CEL syntax error and an invalid inputs schema each name their place."""
    steps = """  - {id: a, kind: notify, message: "${{ inputs.usr }}"}
  - {id: b, kind: wait, until: "inputs.user =="}
"""
    found = _problems(tmp_path, steps)
    assert found[0] == "9:48: steps.0.message: unknown input 'usr' — did you mean 'user'?"
    assert found[1] == "10:47: steps.1.until: CEL syntax error: the expression ends too early"
    bad = HEAD.replace("properties: {user: {type: string}}", "properties: {user: {type: strin}}")
    found = _problems(tmp_path, "  - {id: a, kind: wait, duration: 1s}\n", head=bad)
    assert len(found) == 1 and "inputs.properties.user.type: not a valid JSON Schema" in found[0]


def test_the_first_problem_is_raised_with_the_count_of_the_rest(tmp_path: Path) -> None:
    """load_response_file raises a PlaybookError for the first problem and counts the others."""
    path = tmp_path / "w.yaml"
    path.write_text(HEAD + "  - {id: a, kind: wait, duration: 1s, needs: [x, y]}\n")
    with pytest.raises(PlaybookError, match=r"w.yaml:9:\d+: .*unknown step 'x' \(and 1 more problem in this file\)"):
        load_response_file(path)


def test_inputs_that_do_not_match_name_the_field() -> None:
    """A missing or mistyped input is an InputError naming `inputs.<field>`; k=v values follow the schema's types."""
    schema = load_response_file(EXAMPLE).inputs
    with pytest.raises(InputError, match=r"^inputs\.token_id: "):
        check_inputs(schema, {})
    with pytest.raises(InputError, match=r"^inputs\.token_id: 'nope' does not match"):
        check_inputs(schema, parse_pairs(["token_id=nope"], schema))
    with pytest.raises(InputError, match=r"^inputs\.suspend_owner: 'maybe' is not of type 'boolean'"):
        check_inputs(schema, parse_pairs(["token_id=00Tabc", "suspend_owner=maybe"], schema))
    assert check_inputs(schema, parse_pairs(["token_id=00Tabc", "suspend_owner=false"], schema)) == {
        "token_id": "00Tabc",
        "suspend_owner": False,
        "owner_contact": "",
        "lookback": "168h",
    }
    assert check_inputs(schema, {"token_id": "00Tabc"})["suspend_owner"] is True  # the schema's default
