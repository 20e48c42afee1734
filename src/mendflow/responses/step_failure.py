"""A response step that could not do its job, and the CEL and templates whose failure fails it: one implementation
for the workflow (imported through the sandbox, so it stays pure: no I/O, no clock) and the rehearsal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from mendflow.errors import MendflowError
from mendflow.responses.expressions import evaluate, render, scope
from mendflow.responses.messages import StepStatus
from mendflow.rules import EvaluationError

if TYPE_CHECKING:
    from mendflow.responses.rehearsal_state import RehearsedStep


class StepFailed(MendflowError):
    """A step could not do its job; the message says why (already free of secrets)."""

    def __init__(
        self, message: str, *, output: dict[str, Any] | None = None, items: list[list[RehearsedStep]] | None = None
    ) -> None:
        super().__init__(message)
        self.output = output
        """What the step had produced when it failed (a rehearsed `for_each` stopped by its failure threshold)."""
        self.items = items
        """A rehearsal's traces of the items (or called run) it ran before failing."""


class StepState(Protocol):
    """What later steps read of a step: a run's `StepRecord` or a rehearsal's `RehearsedStep`."""

    @property
    def status(self) -> StepStatus: ...

    @property
    def output(self) -> dict[str, Any]: ...


def step_scope(inputs: Mapping[str, Any], steps: Mapping[str, StepState], now: datetime) -> dict[str, Any]:
    """The variables a step's CEL sees: `inputs`, `steps.<id>.status|output` and `now`."""
    seen = {sid: {"status": s.status.value, "output": s.output} for sid, s in steps.items()}
    return scope(inputs, seen, now)


def step_value(source: str, variables: Mapping[str, Any], what: str) -> Any:
    """The CEL `source` over `variables`; StepFailed naming `what` when it cannot be evaluated."""
    try:
        return evaluate(source, variables)
    except EvaluationError as err:
        raise StepFailed(f"{what} cannot be evaluated: {err}") from None


def step_text(template: str, variables: Mapping[str, Any], what: str) -> str:
    """The `${{ … }}` template rendered over `variables`; StepFailed naming `what` when it cannot be."""
    try:
        return render(template, variables)
    except EvaluationError as err:
        raise StepFailed(f"{what} cannot be evaluated: {err}") from None


__all__ = ["StepFailed", "StepState", "step_scope", "step_text", "step_value"]
