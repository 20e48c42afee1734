"""The response-workflow format (`apiVersion: mendflow/v1`, `kind: Workflow`): typed inputs, triggers and steps.

A detection playbook answers one finding with one field-level action; a response workflow is what a responder
scripts: a sequence of steps with guards, approvals, waits and undo. The models here check each part on its own
(keys, kinds, durations, the fields each kind takes); `mendflow.responses.graph` checks the steps together
(order, cycles, references, approvals before irreversible actions).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from mendflow.models import Severity

# One base and one approval policy for both kinds of playbook: the same key suggestions, the same gate settings.
from mendflow.playbooks.base import Part
from mendflow.playbooks.model import API_VERSION, ApprovalPolicy, Duration

KIND = "Workflow"

StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", examples=["revoke_token"])]


class StepKind(StrEnum):
    """What a step does."""

    action = "action"
    """A connector write: capture → apply → verify, with captured state for rollback."""
    read = "read"
    """A connector read (GET of a resource); later steps use `steps.<id>.output`."""
    approve = "approve"
    """The approval gate campaigns use: RBAC, N-of-M, expiry."""
    notify = "notify"
    """A message to a channel or person."""
    ticket = "ticket"
    """A Jira issue: create one, or comment on / transition one an earlier step created."""
    wait = "wait"
    """A durable timer, or until a condition holds (checked at each poll), with a timeout."""
    if_ = "if"
    """Chooses which of its `then` / `else` steps run."""
    switch = "switch"
    """Chooses which of its `cases` (or its `default`) steps run, by the value of `on`."""
    for_each = "for_each"
    """Runs its `steps` once per item of a list (`as` names the item), canary first, with a failure threshold."""
    snapshot = "snapshot"
    """Stores values (earlier steps' outputs) as evidence by digest."""
    call = "call"
    """Runs another workflow playbook as a child workflow; its steps' outputs become this step's output."""


SUPPORTED_KINDS = (
    StepKind.action,
    StepKind.read,
    StepKind.approve,
    StepKind.notify,
    StepKind.wait,
    StepKind.snapshot,
    StepKind.if_,
    StepKind.ticket,
    StepKind.switch,
    StepKind.call,
    StepKind.for_each,
)
"""Kinds the interpreter runs today; the others are refused when the file loads."""


class OnFailure(StrEnum):
    """What a failed step does to the run."""

    stop = "stop"
    """End the run as failed; completed changes stay (an operator may still roll back)."""
    rollback = "rollback"
    """Restore every completed reversible change newest-first, verify each, end the run as rolled back."""
    continue_ = "continue"
    """Record the failure and go on with the steps that do not need this one."""


class Retry(Part):
    """How often a failing activity of the step is tried."""

    attempts: int = Field(default=3, ge=1, le=20)
    """Tries in all (1 = no retry)."""
    backoff: Duration = timedelta(seconds=1)
    """Wait before the first retry (doubling, at most a minute)."""


KIND_FIELDS: dict[StepKind, tuple[frozenset[str], frozenset[str]]] = {
    StepKind.action: (frozenset({"action", "target"}), frozenset({"with"})),
    StepKind.read: (frozenset({"target"}), frozenset()),
    StepKind.approve: (frozenset(), frozenset({"approval", "message"})),
    StepKind.notify: (frozenset({"message"}), frozenset({"channel"})),
    StepKind.wait: (frozenset(), frozenset({"duration", "until", "answer"})),
    StepKind.snapshot: (frozenset({"of"}), frozenset()),
    StepKind.if_: (frozenset({"condition"}), frozenset({"then", "else"})),
    StepKind.ticket: (frozenset({"jira"}), frozenset()),
    StepKind.switch: (frozenset({"on", "cases"}), frozenset({"default"})),
    StepKind.call: (frozenset({"playbook"}), frozenset({"inputs"})),
    StepKind.for_each: (frozenset({"items", "as", "steps"}), frozenset({"concurrency", "canary", "max_failures"})),
}
"""Per kind: the kind-specific keys it requires and those it may have (every other kind-specific key is refused)."""

_SPECIFIC = ("action", "target", "with", "approval", "message", "channel", "duration", "until", "of", "condition",
             "then", "else", "jira", "on", "cases", "default", "playbook", "inputs",
             "answer", "items", "as", "concurrency", "canary", "max_failures", "steps")  # fmt: skip
_FIELD = {"with": "with_", "else": "else_", "on": "on_", "as": "as_"}


def case_label(value: Any) -> str:
    """A switch value as its case is written: `true`, `3`, `high` (what `on` returns is matched the same way)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class TicketSpec(Part):
    """A `ticket` step's Jira work: create an issue (`summary`), or comment on / transition one (`key`).

    Text fields are templates (`${{ … }}` parts are CEL); registered secrets are masked before Jira sees them.
    """

    project: str = ""
    """Create: the project key (default: the worker's `jira.project`)."""
    issue_type: str = ""
    """Create: the issue type (default: the worker's `jira.issue_type`)."""
    summary: str | None = None
    """Create: the issue's one-line summary."""
    description: str = ""
    """Create: the issue's text."""
    labels: tuple[str, ...] = ()
    """Create: Jira labels for the new issue."""
    timeline: bool = False
    """Append the run's timeline so far (each step's status and why) to the description or comment."""
    key: str | None = None
    """Comment / transition: the issue, usually `${{ steps.<ticket step>.output.key }}`."""
    comment: str | None = None
    """Comment: the text to add (`${{ … }}` parts are CEL)."""
    transition: str | None = None
    """The transition's name, e.g. `Done` (case-insensitive)."""

    @model_validator(mode="after")
    def _create_or_update(self) -> Self:
        if (self.summary is None) == (self.key is None):
            raise PydanticCustomError(
                "ticket_shape", "a ticket step needs 'summary' (create an issue) or 'key' (comment on / move one)"
            )
        if self.key is not None and self.comment is None and self.transition is None:
            raise PydanticCustomError("ticket_shape", "a ticket step with 'key' needs 'comment' or 'transition'")
        if self.key is not None and (self.project or self.issue_type or self.description or self.labels):
            raise PydanticCustomError(
                "ticket_shape", "project, issue_type, description and labels are for creating an issue (no 'key')"
            )
        if self.summary is not None and (self.comment is not None or self.transition is not None):
            raise PydanticCustomError(
                "ticket_shape", "comment and transition need the 'key' of an existing issue (a later ticket step)"
            )
        return self


class Question(Part):
    """`wait` for a person's answer: who is asked, what, and the answers they can give."""

    from_: str = Field(alias="from")
    """CEL: the person asked, a mendflow identity (e.g. `steps.user.output.profile.manager`)."""
    question: str = Field(min_length=1)
    """The text (`${{ … }}` parts are CEL)."""
    options: tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,29}$")], ...] = Field(min_length=1, max_length=5)
    """The answers offered, one button each (short lower-case words, e.g. `keep`, `suspend`)."""


class Step(Part):
    """One step of a response workflow."""

    id: StepId
    """Unique in the workflow; later steps read `steps.<id>.output` and `steps.<id>.status`."""
    kind: StepKind
    """What the step does: action, read, approve, notify, ticket, wait, if, switch, for_each, snapshot or call."""
    needs: tuple[str, ...] | None = None
    """Steps that must finish first; omitted = the step listed just before this one."""
    when: str | None = None
    """CEL guard over `inputs`, `steps` and `now`: the step is skipped when it is false."""
    retry: Retry = Retry()
    """How often the step's activity is tried, and the wait before the first retry."""
    timeout: Duration = timedelta(minutes=5)
    """How long one try of the step's activity may take (for `wait`: how long to wait at most)."""
    on_failure: OnFailure = OnFailure.stop
    """What a failure of this step does to the run: stop (default), rollback or continue."""
    action: str | None = None
    """`action`: the catalogue action to run, e.g. `okta.user.set_status`."""
    target: str | None = None
    """`action` / `read`: the resource's API path; `${{ … }}` parts are CEL, e.g. `/api/v1/users/${{ inputs.user }}`."""
    with_: dict[str, Any] | None = Field(default=None, alias="with")
    """`action`: the action's parameters."""
    approval: ApprovalPolicy = ApprovalPolicy()
    """`approve`: who may approve, how many must, and when the request expires."""
    message: str | None = None
    """`notify`: the text (`${{ … }}` parts are CEL); `approve`: what the approvers are asked."""
    channel: str | None = None
    """`notify`: a Slack channel, or a person — `user:NAME` (RBAC people) or a Slack user id — as a direct message;
    `${{ … }}` parts are CEL; default: the configured channel."""
    duration: Duration | None = None
    """`wait`: a durable timer of this length."""
    until: str | None = None
    """`wait`: a CEL condition; the wait ends when it holds or at `timeout`."""
    of: dict[str, str] | None = None
    """`snapshot`: name → CEL expression; the values are stored together as evidence, by digest."""
    condition: str | None = None
    """`if`: a CEL bool choosing the branch."""
    then: tuple[str, ...] = ()
    """`if`: steps that run only when the condition is true."""
    else_: tuple[str, ...] = Field(default=(), alias="else")
    """`if`: steps that run only when the condition is false."""
    jira: TicketSpec | None = None
    """`ticket`: the Jira issue to create, or the comment / transition on one."""
    on_: str | None = Field(default=None, alias="on")
    """`switch`: a CEL expression; its value (as text: `high`, `3`, `true`) picks the case."""
    cases: dict[str, tuple[str, ...]] | None = None
    """`switch`: value → the steps that run only when `on` has that value."""
    default: tuple[str, ...] = ()
    """`switch`: the steps that run when no case matches."""
    playbook: str | None = None
    """`call`: the id of the workflow playbook to run as a child (found beside this file, pinned at the start)."""
    inputs: dict[str, str] | None = None
    """`call`: the child's inputs, name → CEL expression."""
    answer: Question | None = None
    """`wait`: until this person answers (or an operator in their place); `timeout` bounds the wait."""
    items: str | None = None
    """`for_each`: a CEL list, e.g. `steps.inactive.output.items.map(u, u.id)`."""
    as_: str | None = Field(default=None, alias="as", pattern=r"^[a-z][a-z0-9_]*$")
    """`for_each`: the name the body's expressions give the current item."""
    concurrency: int | None = Field(default=None, ge=1, le=1000)
    """`for_each`: items in progress at once (default 1)."""
    canary: int | None = Field(default=None, ge=1)
    """`for_each`: this many items first, alone; any failure among them stops the rest."""
    max_failures: Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=r"^\d{1,3}(\.\d+)?%$")] | None = None
    """`for_each`: failed items tolerated, a count or a percentage of the items (`10%`); default 0."""
    steps: tuple[Step, ...] = ()
    """`for_each`: the body, run once per item (its ids are its own; it reads `steps.<id>` of earlier steps)."""

    @model_validator(mode="before")
    @classmethod
    def _on_key(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean true; a switch means the word.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        if isinstance(data, dict) and isinstance(data.get("cases"), dict):  # `3:` and `true:` are case values too
            cases = {case_label(key): value for key, value in data["cases"].items()}
            data = {**data, "cases": cases}
        return data

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Self:
        if self.kind not in KIND_FIELDS:
            supported = ", ".join(k.value for k in SUPPORTED_KINDS)
            raise PydanticCustomError(
                "unsupported_kind", f"step kind {self.kind.value!r} is not yet supported (supported: {supported})"
            )
        required, optional = KIND_FIELDS[self.kind]
        # set = not at its default (a serialized definition carries every key, with defaults for the unused ones)
        given = {key for key in _SPECIFIC if getattr(self, _FIELD.get(key, key)) not in (None, (), ApprovalPolicy())}
        missing = sorted(required - given)
        if missing:
            raise PydanticCustomError(
                "missing_key", f"a {self.kind.value} step needs {', '.join(repr(m) for m in missing)}"
            )
        extra = sorted(given - required - optional)
        if extra:
            raise PydanticCustomError(
                "unknown_key", f"{', '.join(repr(e) for e in extra)} is not a key of a {self.kind.value} step"
            )
        if self.kind is StepKind.wait and [self.duration, self.until, self.answer].count(None) != 2:
            raise PydanticCustomError("missing_key", "a wait step needs exactly one of 'duration', 'until' or 'answer'")
        return self


class Trigger(Part):
    """What starts a run."""

    manual: bool = True
    """Started by a person (`mendflow run`)."""
    finding: str | None = None
    """Started for a finding of this detection playbook id (the finding's resource id is `inputs.resource`)."""


class ResponsePlaybook(Part):
    """A response workflow: a named, typed, ordered set of steps the generic interpreter runs."""

    api_version: Literal["mendflow/v1"] = Field(alias="apiVersion")
    """The format version: `mendflow/v1`."""
    kind: Literal["Workflow"]
    """`Workflow`: this file is a response workflow, not a detection playbook."""
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", examples=["okta.api_token.compromise"])
    """Dotted lower-case words; unique across everything loaded."""
    title: str = Field(min_length=1)
    """One line a person reads in the run's status, approval cards and tickets."""
    description: str = ""
    """What the workflow is for, in a few sentences."""
    tenant: str | None = None
    """The tenant key (`okta:acme`) the steps act on; `mendflow run --tenant` overrides it."""
    severity: Severity = Severity.high
    """Decides the approvers and required approvals the RBAC config gives when a gate names none."""
    inputs: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    """A JSON Schema (draft 2020-12) of the run's inputs, an object: `properties`, `required`, …"""
    triggers: tuple[Trigger, ...] = (Trigger(),)
    """What starts a run: by hand (`mendflow run`), or a finding of a detection playbook."""
    steps: tuple[Step, ...]
    """The steps, in order; each runs after its `needs` (or the step listed before it)."""

    @model_validator(mode="after")
    def _has_steps(self) -> Self:
        if not self.steps:
            raise PydanticCustomError("missing_key", "a workflow needs at least one step")
        return self


assert API_VERSION == "mendflow/v1"  # the Literal above must follow the detection format's version
