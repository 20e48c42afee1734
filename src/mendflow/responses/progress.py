"""Whether a step runs: the rule ResponseWorkflow applies, as a pure function of what the run has recorded so far.

A step is skipped when a step it needs did not run (skipped, rejected, expired, failed) — unless its `when`
reads that step, then `when` alone decides; when it sits on a branch of an `if` / `switch` that chose another
branch; when its `when` is not true; and when it is an irreversible action without an approval before it on
every path (a guard that reads a rejection does not bypass the gate). The rehearsal (`responses.rehearsal`)
decides with this function, so a plan or a test case skips exactly what a run would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from mendflow.actions import ACTIONS
from mendflow.responses.graph import ancestors, branches
from mendflow.responses.messages import StepStatus
from mendflow.responses.model import ResponsePlaybook, Step, StepKind
from mendflow.rules import EvaluationError

NOT_RUN = frozenset({StepStatus.skipped, StepStatus.rejected, StepStatus.expired, StepStatus.failed})
"""A step that needs one of these is skipped, unless its `when` reads it (then `when` alone decides)."""


def branch_owners(definition: ResponsePlaybook) -> dict[str, tuple[str, str]]:
    """Step id → (the if / switch step it is a branch of, the branch's label)."""
    return {m: (s.id, label) for s in definition.steps for _, label, members in branches(s) for m in members}


def chosen(owner: Step, output: Mapping[str, Any]) -> str | None:
    """The branch label an if / switch step chose (None when it did not run)."""
    if owner.kind is StepKind.switch:
        case = output.get("case")
        return case if isinstance(case, str) else None
    value = output.get("value")
    return "then" if value is True else "else" if value is False else None


def skip_reason(
    step: Step,
    *,
    steps: Mapping[str, Step],
    deps: Mapping[str, tuple[str, ...]],
    owners: Mapping[str, tuple[str, str]],
    status: Mapping[str, StepStatus],
    output: Mapping[str, Mapping[str, Any]],
    evaluate: Callable[[str], Any],
) -> str:
    """Why `step` does not run, or an empty string (`evaluate`: a CEL expression's value in the run's scope)."""
    read_by_guard = step.when or ""
    for need in deps[step.id]:
        if status[need] in NOT_RUN and not re.search(rf"\bsteps\.{need}\b", read_by_guard):
            return f"needs {need}, which was {status[need].value}"
    branch = owners.get(step.id)
    if branch is not None and chosen(steps[branch[0]], output[branch[0]]) != branch[1]:
        owner, label = branch
        where = f"on the {label} branch" if steps[owner].kind is StepKind.if_ else f"in the {label!r} case"
        return f"{where} of {owner}, not taken"
    if step.when is not None:
        try:
            value = evaluate(step.when)
        except EvaluationError as err:
            return f"when cannot be decided: {err}"
        if value is not True:
            return f"when is {value}"
    if step.kind is StepKind.action and step.action is not None and not ACTIONS[step.action].reversible:
        gates = [a for a in ancestors(dict(deps), step.id) if steps[a].kind is StepKind.approve]
        refused = [g for g in gates if status[g] is not StepStatus.approved]
        if not gates or refused:
            return f"{step.action} cannot be undone and {', '.join(refused) or 'no approval'} did not approve it"
    return ""
