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
    paused = "paused"
    """Held before its next step by an operator (a running step finishes first)."""
    aborted = "aborted"
    """Stopped by an operator before its next step; completed changes stay (a rollback may still restore them)."""


DEFAULT_RETENTION = timedelta(days=7)
"""How long a run started by `mendflow run` or a trigger can still be rolled back after it ends."""
FINISHED = frozenset({RunState.completed, RunState.failed, RunState.rolled_back, RunState.aborted})


class PinnedDefinition(Message):
    """A called workflow as it was when the calling run started: editing its file changes new runs only."""

    definition: ResponsePlaybook
    digest: str
    """sha256 of the definition's canonical JSON (`definition_digest`)."""


class ChildWaiting(Message):
    """A called run tells its caller it waits for a decision (`waiting` says for what) or no longer does (empty)."""

    run_id: str
    """The called run: `<caller run id>/<call step id>`."""
    waiting: str = ""


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
    retention: timedelta = timedelta(0)
    """How long a finished run keeps its captured state and listens for `rollback` (0: it ends at once).
    `mendflow run` and finding triggers give `DEFAULT_RETENTION`."""
    children: dict[str, PinnedDefinition] = Field(default_factory=dict)
    """Playbook id → the workflow each `call` step runs (and those they call), pinned when this run started."""


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


class Restorable(Message):
    """One change a rollback would undo: which step wrote it, on what, and the state it would put back."""

    step_id: str
    action: str
    resource: str
    before: dict[str, Any] | None
    """The captured prior state of the fields the step wrote (what the restore writes back)."""
    after: dict[str, Any] | None


class ResponseStatus(Message):
    """The `status` query and the run's result."""

    run_id: str
    playbook_id: str
    digest: str
    state: RunState
    steps: list[StepRecord]
    decisions: list[Decision] = Field(default_factory=list)
    timeline: list[dict[str, str]] = Field(default_factory=list)
    paused: bool = False
    restorable: list[Restorable] = Field(default_factory=list)
    """Completed reversible changes a rollback would restore, newest first (what the operator confirms)."""
    rollback_until: datetime | None = None
    """A finished run keeps listening for `rollback` until then (None: it does not, or it is still running)."""


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


class TicketInput(Message):
    """A `ticket` step, its texts already rendered: create an issue (`summary`), or comment on / move `key`."""

    step_id: str
    """With the run's workflow id, the key that makes the Jira call happen once whatever retries or workers."""
    playbook_id: str
    severity: Severity
    """Sets the issue's priority, as a campaign's does."""
    project: str = ""
    issue_type: str = ""
    summary: str | None = None
    description: str = ""
    labels: tuple[str, ...] = ()
    key: str | None = None
    comment: str | None = None
    transition: str | None = None
    timeout: timedelta | None = None
    """The step's `timeout`: no Jira call starts after it, and a try whose call answers after it fails (what the call
    did is kept for the next try). The activity's start-to-close is longer by `TICKET_SETTLE`, so Temporal never
    gives up on a try while its Jira call is in flight. None (runs recorded before): only the start-to-close."""


TICKET_SETTLE = timedelta(minutes=2)
"""How much longer than its step's `timeout` a ticket try may run: long enough for the Jira call in flight at the
timeout to end on its own (`JiraTickets.worst_case`: 60 s at the default `jira.timeout` of 10 s)."""
TICKET_HEARTBEAT = timedelta(minutes=1)
"""A ticket try beats while it waits for Jira; a worker that dies is noticed after this long, not at the
start-to-close."""


class TicketResult(Message):
    """The issue a `ticket` step created or changed (empty `key` when Jira is not configured)."""

    key: str = ""
    url: str = ""
    detail: str = ""


__all__ = [
    "DEFAULT_RETENTION",
    "FINISHED",
    "TICKET_HEARTBEAT",
    "TICKET_SETTLE",
    "CaptureInput",
    "Change",
    "ChildWaiting",
    "EvidenceInput",
    "GateInput",
    "NotifyInput",
    "NotifyResult",
    "PinnedDefinition",
    "ReadInput",
    "ResponseInput",
    "ResponseStatus",
    "Restorable",
    "RunState",
    "StepRecord",
    "StepStatus",
    "TicketInput",
    "TicketResult",
]
