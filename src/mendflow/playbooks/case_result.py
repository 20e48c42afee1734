"""How one test case went, for both kinds of playbook: a detection playbook's case yields the plan it made, a
response workflow's case the rehearsal it ran; `mendflow playbooks test` reports both the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only named here: importing them would load the planner and the rehearsal for every validate
    from mendflow.playbooks.plan import PlaybookPlan
    from mendflow.responses.rehearsal_state import Rehearsal


@dataclass
class CaseResult:
    """How one test case went."""

    playbook_id: str
    name: str
    problems: list[str] = field(default_factory=list)
    """Each difference from the expectation, in a sentence; empty when the case passed."""
    plan: PlaybookPlan | None = None
    """A detection playbook's case: the findings and changes it planned."""
    rehearsal: Rehearsal | None = None
    """A response workflow's case: the steps it rehearsed."""

    @property
    def passed(self) -> bool:
        return not self.problems


__all__ = ["CaseResult"]
