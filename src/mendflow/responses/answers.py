"""The answers a rehearsal gives the steps that wait for people: approve steps (approve, reject, expire) and waits
for an answer (one of the question's options). Kept light: the loader checks test cases' answers with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum

from mendflow.playbooks.base import did_you_mean
from mendflow.responses.model import ResponsePlaybook, Step, StepKind


class Answer(StrEnum):
    """How an approve step is answered in a rehearsal."""

    approve = "approve"
    reject = "reject"
    expire = "expire"
    """Nobody answers before the request expires (treated as a rejection)."""


def decision_problems(definition: ResponsePlaybook, decisions: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key, why) for each answer given to no step that takes one, or that the step does not offer. A key is a step
    id (every step of that id, in for_each bodies too) or `for_each-id.step-id` (that body only)."""
    takers = list(_steps_within(definition.steps, ""))
    names = {name for name, _ in takers} | {step.id for _, step in takers}
    found = []
    for key, given in decisions.items():
        matches = [step for name, step in takers if key in (name, step.id)]
        if not matches:
            found.append((key, f"unknown step {key!r}{did_you_mean(key, names)}"))
            continue
        for step in matches:
            offered = _offered(step)
            if offered is None:
                why = f"{step.kind.value} step {key!r} takes no decision (approve steps and waits for an answer do)"
                found.append((key, why))
            elif given not in offered:
                found.append((key, f"{given!r} is not an answer step {key!r} takes (it takes: {', '.join(offered)})"))
            else:
                continue
            break
    return found


def _steps_within(steps: tuple[Step, ...], prefix: str) -> Iterator[tuple[str, Step]]:
    """(qualified id, step) of every step, those in for_each bodies too."""
    for step in steps:
        yield prefix + step.id, step
        yield from _steps_within(step.steps, f"{prefix}{step.id}.")


def _offered(step: Step) -> tuple[str, ...] | None:
    if step.kind is StepKind.approve:
        return tuple(answer.value for answer in Answer)
    if step.kind is StepKind.wait and step.answer is not None:
        return step.answer.options
    return None
