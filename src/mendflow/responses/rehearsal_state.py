"""What a rehearsal is made of: its result (`Rehearsal`, one `RehearsedStep` per step), the state a step handler
sees (`Run`) and returns (`Done`), and the answers a rehearsal may give (`Answer`, `decision_problems`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mendflow.connectors.http import VendorHttp
from mendflow.rbac import RbacConfig
from mendflow.responses.messages import RunState, StepStatus
from mendflow.responses.model import ResponsePlaybook, Step
from mendflow.responses.step_failure import step_scope, step_text, step_value


class RehearsedStep(BaseModel):
    """One step as the rehearsal saw it."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    status: StepStatus = StepStatus.pending
    detail: str = ""
    """What it did or would do, whom it waits for, or why it was skipped."""
    output: dict[str, Any] = Field(default_factory=dict)
    """What later steps read as `steps.<id>.output` (as the real run would give it)."""
    resource: str | None = None
    """`action`: the resource written (or that would be)."""
    before: dict[str, Any] | None = None
    """`action`: the fields it writes, as the tenant holds them before the step."""
    after: dict[str, Any] | None = None
    """`action`: the same fields once the step ran."""
    items: list[list[RehearsedStep]] | None = None
    """`for_each`: per item started, its body's steps as rehearsed (the output keeps only what a run keeps);
    `call`: one entry, the called workflow's steps."""


class Rehearsal(BaseModel):
    """A whole rehearsed run."""

    model_config = ConfigDict(frozen=True)

    playbook_id: str
    title: str
    tenant: str
    inputs: dict[str, Any]
    written: bool
    """True when the writes were sent to the (simulated) tenant; False for a plan."""
    state: RunState
    steps: list[RehearsedStep]
    refused_writes: list[str] = Field(default_factory=list)
    """Writes the read-only simulator refused; always empty unless something tried to write during a plan."""


@dataclass
class Run:
    """What a handler sees: the definition, the tenant, the answers, and every step so far."""

    definition: ResponsePlaybook
    inputs: dict[str, Any]
    http: VendorHttp
    write: bool
    now: datetime
    answers: Mapping[str, str] = field(default_factory=dict)
    """Step id (or `for_each-id.step-id`) → the answer: approve | reject | expire, or one of a question's options."""
    rbac: RbacConfig = field(default_factory=RbacConfig)
    records: dict[str, RehearsedStep] = field(default_factory=dict)
    written: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    """(step id, action, resource id, captured before) of reversible writes, in write order."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Variables besides inputs, steps and now: a `for_each` body's item."""
    outer: dict[str, RehearsedStep] = field(default_factory=dict)
    """A `for_each` body's view of the steps around it (read as `steps.<id>` like its own)."""
    library: Mapping[str, ResponsePlaybook] = field(default_factory=dict)
    """Workflows a `call` step may run, by id (those loaded beside the rehearsed one)."""
    prefix: str = ""
    """How this run's step ids are qualified in `answers`: `warn.` inside the body of the for_each `warn`."""
    planned: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Without writes (a plan): resource id → the fields earlier steps would have written, so a later step's
    before is what the tenant would hold by then, not what it holds now."""

    def scope(self) -> dict[str, Any]:
        return {**step_scope(self.inputs, {**self.outer, **self.records}, self.now), **self.extra}

    def answer_for(self, step: Step) -> str | None:
        """The answer the rehearsal gives this step, if one was given."""
        return self.answers.get(self.prefix + step.id, self.answers.get(step.id))

    def value(self, source: str, what: str) -> Any:
        return step_value(source, self.scope(), what)

    def text(self, template: str, what: str) -> str:
        return step_text(template, self.scope(), what)


@dataclass(frozen=True)
class Done:
    """What a handler returns."""

    status: StepStatus
    output: dict[str, Any]
    detail: str
    resource: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    items: list[list[RehearsedStep]] | None = None


Handler = Callable[[Run, Step], Awaitable[Done]]
