"""One `StepFailed` and one way to evaluate a step's CEL and templates (`responses.step_failure`), shared by the
workflow (through the sandbox) and the rehearsal, so a plan fails a step exactly where a run would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from mendflow.workflows import response as workflow_module

from mendflow.responses import rehearsal_kinds, rehearsal_state
from mendflow.responses.messages import StepRecord, StepStatus
from mendflow.responses.rehearsal_state import RehearsedStep
from mendflow.responses.step_failure import StepFailed, step_scope, step_text, step_value

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_the_workflow_and_the_rehearsal_raise_and_catch_the_same_class() -> None:
    """The name the workflow (and its fan-out) and the rehearsal's handlers use is this one class."""
    assert workflow_module.StepFailed is StepFailed and rehearsal_kinds.StepFailed is StepFailed
    assert not hasattr(rehearsal_state, "StepFailed")


def test_a_runs_records_and_a_rehearsals_steps_give_the_same_scope() -> None:
    """`steps.<id>.status|output` read the same from a workflow's StepRecord and a rehearsal's RehearsedStep."""
    output = {"user": {"id": "00u1"}}
    recorded = {"read": StepRecord(id="read", kind="read", status=StepStatus.done, output=output)}
    rehearsed = {"read": RehearsedStep(id="read", kind="read", status=StepStatus.done, output=output)}
    inputs = {"who": "alice"}
    assert step_scope(inputs, recorded, NOW) == step_scope(inputs, rehearsed, NOW)
    values = step_scope(inputs, recorded, NOW)
    assert step_value('steps.read.status == "done" && steps.read.output.user.id == "00u1"', values, "when") is True
    assert step_text("hi ${{ inputs.who }}", values, "message") == "hi alice"


@pytest.mark.parametrize(
    ("evaluate", "what"),
    [
        (lambda values: step_value("inputs.missing.field", values, "condition"), "condition"),
        (lambda values: step_text("${{ inputs.missing.field }}", values, "message"), "message"),
    ],
    ids=["value", "text"],
)
def test_an_expression_that_cannot_be_evaluated_fails_the_step_naming_what(evaluate: object, what: str) -> None:
    """A CEL error is a StepFailed whose message names the field that holds the expression."""
    values = step_scope({}, {}, NOW)
    with pytest.raises(StepFailed) as failed:
        evaluate(values)  # type: ignore[operator]
    assert str(failed.value).startswith(f"{what} cannot be evaluated: ")
