"""for_each bodies and questions in workflow files: what loads, and what is refused with file:line:column."""

from __future__ import annotations

from pathlib import Path

from mendflow.responses import response_problems
from mendflow.responses.items import failure_limit, pages

HEAD = """apiVersion: mendflow/v1
kind: Workflow
id: test.fan_out
title: t
inputs:
  type: object
  properties: {users: {type: array}}
steps:
  - {id: ask, kind: approve}
"""


def _problems(tmp_path: Path, steps: str) -> list[str]:
    path = tmp_path / "w.yaml"
    path.write_text(HEAD + steps)
    return [str(e).removeprefix(f"{path}:") for e in response_problems(path)]


def test_a_body_reads_its_item_earlier_steps_and_its_own_earlier_steps(tmp_path: Path) -> None:
    """The item (by its `as` name), outer steps before the for_each and earlier body steps all resolve."""
    steps = """  - id: each
    kind: for_each
    items: inputs.users
    as: user
    steps:
      - {id: look, kind: read, target: "/api/v1/users/${{ user }}"}
      - id: decide
        kind: wait
        answer: {from: steps.look.output.profile.manager, question: "Suspend ${{ user }}?", options: [suspend, keep]}
        timeout: 3d
      - id: suspend
        kind: action
        when: steps.decide.output.answer == "suspend" && steps.ask.status == "approved"
        action: okta.user.set_status
        target: /api/v1/users/${{ user }}
        with: {status: SUSPENDED}
  - {id: after, kind: notify, message: "${{ steps.each.output.done }} suspended"}
"""
    assert _problems(tmp_path, steps) == []


def test_a_body_step_reading_an_unknown_item_or_field_is_refused_where_written(tmp_path: Path) -> None:
    """A misspelt item variable and an answer field the wait step does not have are named at their column."""
    steps = """  - id: each
    kind: for_each
    items: inputs.users
    as: user
    steps:
      - {id: q, kind: wait, answer: {from: usr, question: "?", options: [ok]}}
      - {id: say, kind: notify, message: "${{ steps.q.output.anwser }}"}
"""
    found = _problems(tmp_path, steps)
    assert found[0].startswith("15:44: ") and "unknown variable 'usr' — did you mean 'user'?" in found[0]
    assert found[1].startswith("16:62: ") and "has no 'anwser' — did you mean 'answer'?" in found[1]


def test_approvals_nested_loops_and_clashing_ids_are_refused_in_a_body(tmp_path: Path) -> None:
    """An approve step in a body, and a body id that is already a workflow step, are refused by name."""
    steps = """  - id: each
    kind: for_each
    items: inputs.users
    as: user
    steps:
      - {id: gate, kind: approve}
      - {id: ask, kind: notify, message: hi}
"""
    found = _problems(tmp_path, steps)
    assert len(found) == 2
    assert "a for_each body cannot hold a approve step: approve once, before the for_each" in found[0]
    assert found[1].startswith("16:14: ") and "'ask' is already a step of the workflow" in found[1]


def test_an_irreversible_action_in_a_body_needs_an_approval_before_the_for_each(tmp_path: Path) -> None:
    """The approval rule reaches into bodies: the approve step must come before the for_each itself."""
    body = """    kind: for_each
    items: inputs.users
    as: user
    steps:
      - {id: revoke, kind: action, action: okta.api_token.revoke, target: "/x/${{ user }}", with: {state: revoked}}
"""
    found = _problems(tmp_path, "  - id: each\n    needs: []\n" + body)
    assert len(found) == 1 and "okta.api_token.revoke cannot be undone" in found[0] and found[0].startswith("16:44: ")
    assert _problems(tmp_path, "  - id: each\n" + body) == []


def test_failure_limits_and_pages() -> None:
    """max_failures is a count or a percentage (rounded down); the canary is a page of its own."""
    assert failure_limit(None, 50) == 0 and failure_limit(3, 50) == 3 and failure_limit("10%", 55) == 5
    assert pages(5, canary=2, page_size=2) == [(0, 2), (2, 4), (4, 5)]
    assert pages(250, canary=0) == [(0, 100), (100, 200), (200, 250)]
    assert pages(1, canary=3) == [(0, 1)] and pages(0, canary=1) == []
