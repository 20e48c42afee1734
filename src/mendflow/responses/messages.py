"""What the response workflow and its activities pass each other, and what `status` shows.

Kept free of I/O imports: the workflow imports it inside Temporal's sandbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mendflow.models import Change, Decision, ResourceRef, Severity
from mendflow.responses.model import ResponsePlaybook


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepStatus(StrEnum):
    """Where one step is."""

    pending = "pending"
    running = "running"
    waiting = "waiting"
    """For people (an approval) or time (a wait)."""
    done = "done"
    skipped = "skipped"
    failed = "failed"
    approved = "approved"
    rejected = "rejected"
    expired = "expired"
    """An approval nobody gave in time: treated as a rejection."""
    rolled_back = "rolled_back"
    """A change restored from its captured state (and verified)."""
    restore_failed = "restore_failed"


class RunState(StrEnum):
    """Where the whole run is."""

    running = "running"
    awaiting_approval = "awaiting_approval"
    waiting = "waiting"
    rolling_back = "rolling_back"
    completed = "completed"
    """Every step finished (some may have been skipped or rejected)."""
    failed = "failed"
    """A step failed with `on_failure: stop`; completed changes stay."""
    rolled_back = "rolled_back"


FINISHED = frozenset({RunState.completed, RunState.failed, RunState.rolled_back})


class ResponseInput(Message):
    """A run: the definition itself (pinned: editing the file changes new runs only) and its checked inputs."""

    run_id: str
    """The workflow id."""
    tenant_key: str
    """The tenant the steps act on (`okta:acme`)."""
    definition: ResponsePlaybook
    digest: str
    """sha256 of the definition's canonical JSON (`definition_digest`), shown by status and the audit chain."""
    inputs: dict[str, Any] = Field(default_factory=dict)
    """Already checked against the definition's inputs schema by whoever started the run."""
    requested_by: str = ""
    """Who started the run (may not approve its own gates: four-eyes)."""


class StepRecord(Message):
    """One step as the timeline shows it."""

    id: str
    kind: str
    status: StepStatus = StepStatus.pending
    started_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str = ""
    """Why it ended as it did, or whom it waits for."""
    output: dict[str, Any] = Field(default_factory=dict)
    """What later steps read as `steps.<id>.output`."""


class ResponseStatus(Message):
    """The `status` query and the run's result."""

    run_id: str
    playbook_id: str
    digest: str
    state: RunState
    steps: list[StepRecord]
    decisions: list[Decision] = Field(default_factory=list)
    timeline: list[dict[str, str]] = Field(default_factory=list)


class ReadInput(Message):
    """A `read` step: GET one resource path."""

    tenant_key: str
    path: str


class CaptureInput(Message):
    """An `action` step before its write: the fields it will set, read now (the rollback state)."""

    tenant_key: str
    playbook_id: str
    resource: ResourceRef
    action: str
    params: dict[str, Any]


class EvidenceInput(Message):
    """A `snapshot` step: values to keep by digest."""

    run_id: str
    step_id: str
    values: dict[str, Any]


class GateInput(Message):
    """An `approve` step: its policy, resolved by the worker's RBAC config into a campaign-style plan."""

    run_id: str
    tenant_key: str
    playbook_id: str
    title: str
    severity: Severity
    approvers: list[str]
    required: int
    timeout: timedelta
    escalate_after: timedelta | None = None
    escalate_to: str | None = None


class NotifyInput(Message):
    """A `notify` step: text to a channel or person (`user:NAME`), or the playbook's channel."""

    playbook_id: str
    channel: str | None
    text: str


class NotifyResult(Message):
    delivered: bool
    channel: str = ""
    detail: str = ""


__all__ = [
    "FINISHED",
    "CaptureInput",
    "Change",
    "EvidenceInput",
    "GateInput",
    "NotifyInput",
    "NotifyResult",
    "ReadInput",
    "ResponseInput",
    "ResponseStatus",
    "RunState",
    "StepRecord",
    "StepStatus",
]
