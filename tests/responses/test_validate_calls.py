"""`mendflow playbooks validate` checks call steps as `mendflow run` does: the called workflow is found beside the
file, declares the inputs given, and loads — each problem once, at its file:line:column."""

from __future__ import annotations

from pathlib import Path

from mendflow.playbooks.loader import load_playbooks
from tests.responses.call_pair import CALLER, write_pair


def _errors(*paths: Path) -> list[str]:
    return [str(e) for e in load_playbooks(list(paths)).errors]


def test_a_caller_and_its_callee_load_together_or_alone(tmp_path: Path) -> None:
    """With the callee beside it, the caller loads whether it is validated alone or with its folder."""
    assert _errors(write_pair(tmp_path)) == []
    assert [w.id for w in load_playbooks([tmp_path]).workflows] == ["test.callee", "test.caller"]


def test_an_unknown_callee_is_refused_at_the_call(tmp_path: Path) -> None:
    """A call to a workflow that is not beside the file is refused where `playbook` is written, with the id meant."""
    (error,) = _errors(write_pair(tmp_path, caller=CALLER.replace("test.callee", "test.calee")))
    assert error.startswith(f"{tmp_path / 'caller.yaml'}:8:")
    assert "no workflow playbook 'test.calee' beside this file — did you mean 'test.callee'?" in error


def test_an_input_the_callee_does_not_declare_is_refused(tmp_path: Path) -> None:
    """`inputs: {usr: …}` names an input the callee does not have."""
    (error,) = _errors(write_pair(tmp_path, caller=CALLER.replace("{user: inputs.user}", "{usr: inputs.user}")))
    assert f"{tmp_path / 'caller.yaml'}:8:" in error and "test.callee has no input 'usr'" in error


def test_a_broken_callee_is_reported_once_at_its_own_position(tmp_path: Path) -> None:
    """The callee's irreversible action lacks its own approval (the caller's does not cover it): validating the
    caller alone reports it at the callee's line; validating the folder reports it once."""
    (alone,) = _errors(write_pair(tmp_path, approved=False))
    assert alone.startswith(f"{tmp_path / 'callee.yaml'}:7:") and "cannot be undone" in alone
    assert _errors(tmp_path) == [alone]


def test_reading_a_step_the_called_workflow_does_not_have_is_refused(tmp_path: Path) -> None:
    """`steps.contain.output.steps.cler` names a step of the called workflow that does not exist: refused where it
    is written, with the step meant; reading one it has loads."""
    reads = "  - {id: tell, kind: notify, message: 'cleared: ${{ steps.contain.output.steps.STEP.outcome }}'}\n"
    assert _errors(write_pair(tmp_path, caller=CALLER + reads.replace("STEP", "clear"))) == []
    (tmp_path / "caller.yaml").write_text(CALLER + reads.replace("STEP", "cler"))
    (error,) = _errors(tmp_path / "caller.yaml")
    assert error.startswith(f"{tmp_path / 'caller.yaml'}:9:")
    assert "test.callee (called by 'contain') has no step 'cler' — did you mean 'clear'? (it has: ok, clear)" in error
