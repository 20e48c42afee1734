"""Inputs and outputs of mendflow's workflows and activities: one pydantic model per call.

Kept free of I/O imports so workflow code can import it inside Temporal's sandbox. Large things (inventories,
finding lists of a whole scan) travel as snapshot digests, not values.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from mendflow.models import (
    Change,
    Channel,
    Decision,
    Finding,
    JsonObject,
    Outcome,
    Proof,
    ResourceRef,
    Severity,
    Verdict,
)
from mendflow.responses.triggers import TriggeredRuns


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- scan -------------------------------------------------------------------------------------------------


class ScanInput(Message):
    tenant_key: str
    """Key in the worker's tenant registry, e.g. `github:acme`."""
    as_of: datetime | None = None
    """Evaluate time-based conditions as of this instant (default: the scan's start, from workflow time)."""


class CollectInput(Message):
    tenant_key: str


class CollectResult(Message):
    snapshot: str
    """Digest of the inventory (JSON lines of resources) in the snapshot store."""
    resources: int
    requests: int
    gaps: list[str] = Field(default_factory=list)
    """Collections that could not be read (endpoint: reason): coverage gaps, not findings."""
    collections_expected: int = 0
    """Collections (lists and per-object sub-collections) the scan set out to read."""
    collections_read: int = 0
    coverage: float = 1.0
    """collections_read / collections_expected: below 1.0 the inventory has gaps (see `gaps`)."""
    covered: list[str] = Field(default_factory=list)
    """Targeted collections: ids read completely with everything under them (see `connectors.targeted`)."""


class EvaluateInput(Message):
    tenant_key: str
    snapshot: str
    as_of: datetime


class EvaluateResult(Message):
    findings: str
    """Digest of the findings (JSON lines) in the snapshot store."""
    count: int
    by_severity: dict[Severity, int]
    rules: list[str]
    """Ids of the rules that were evaluated (only their findings can be resolved as gone)."""
    errors: list[str] = Field(default_factory=list)


class ReconcileInput(Message):
    tenant_key: str
    findings: str
    rules: list[str]
    seen_at: datetime
    snapshot: str = ""
    """Digest of the inventory the findings came from: a missing finding resolves only if its resource was read
    (empty: unknown, as in histories recorded before this field)."""
    complete: bool = True
    """False when the scan had coverage gaps: then a resource that was not read keeps its findings open."""
    covered: list[str] = Field(default_factory=list)
    """Targeted rescans: ids read completely with everything under them; a finding there whose resource was not
    read resolves as deleted (nothing outside them resolves unless read)."""


class CampaignPlan(Message):
    """One campaign to start: a playbook's unowned open findings in one tenant."""

    campaign_id: str
    playbook_id: str
    findings: list[Finding]
    """The findings themselves for small campaigns; empty when they travel by `findings_digest`."""
    findings_digest: str | None = None
    """Digest of the findings (JSON lines) in the snapshot store, for campaigns too large to pass by value."""
    findings_count: int = 0
    """How many findings `findings_digest` holds."""


class ReconcileResult(Message):
    new: int
    still_open: int
    gone: int
    campaigns: list[CampaignPlan]
    report_only: int
    """Open findings of notify-only playbooks (reported, no campaign)."""
    responses: TriggeredRuns = Field(default_factory=TriggeredRuns)
    """Response runs the findings this reconciliation opened trigger (`triggers: [{finding: RULE}]`)."""


class ScanResult(Message):
    tenant_key: str
    snapshot: str
    findings_digest: str
    resources: int
    findings: int
    new: int
    still_open: int
    gone: int
    campaigns_started: list[str]
    campaigns_existing: list[str]
    responses_started: list[str] = Field(default_factory=list)
    """Response run ids new findings started (finding triggers)."""
    gaps: list[str]
    evaluation_errors: int


# --- targeted rescans -------------------------------------------------------------------------------------


class RescanRequest(Message):
    """Resources a trigger (a vendor webhook) asks to re-read: the signal a `RescanWorkflow` accumulates."""

    targets: list[str]
    """Canonical API paths of resources or sub-collections (`connectors.targeted`)."""
    source: str = ""
    """What asked, for the log: `github delivery <id>`, `okta event <id>` (never the payload)."""
    requests: int = Field(default=1, ge=1)
    """How many requests (deliveries) this signal carries: a client coalesces those that arrive while its previous
    signal is in flight (`runtime.rescans.RescanRequests`), and each still counts in `requests_coalesced`."""


class RescanInput(Message):
    """One tenant's targeted-rescan workflow (id `mendflow-rescan:<tenant key>`, started by signal-with-start)."""

    tenant_key: str
    debounce: timedelta = timedelta(milliseconds=150)
    """How long the first request of a burst waits for others, so a burst for one resource is one rescan (the
    webhooks section's `debounce_ms` default, measured in docs/webhooks.md)."""
    idle: timedelta = timedelta(minutes=5)
    """The workflow completes after this long without requests (the next request starts a new run)."""
    pending: list[str] = Field(default_factory=list)
    """Targets carried across continue-as-new."""
    max_batches: int = Field(default=100, ge=1)
    """Rescans per run before it continues as new (its history stays small however busy the tenant is)."""


class TargetedCollectInput(Message):
    tenant_key: str
    targets: list[str]
    """Canonical API paths to read (each at most once)."""


class RescanBatch(Message):
    """One targeted rescan: what it read and what it changed in the ledger."""

    targets: list[str]
    """The targets it read: the first `workflows.rescan.STATUS_TARGETS` (a status of 100 rescans stays small)."""
    target_count: int = 0
    """How many targets it read (0 in statuses from before it was counted: then `len(targets)`)."""
    requests: int
    resources: int
    findings: int
    new: int
    gone: int
    campaigns_started: list[str]
    requests_coalesced: int
    """How many signalled requests this one rescan served."""
    responses_started: list[str] = Field(default_factory=list)
    """Response run ids the findings it opened started (finding triggers)."""
    error: str = ""
    """Why the rescan failed (its targets were not read; the workflow keeps serving later requests)."""


class RescanStatus(Message):
    """The `status` query of a RescanWorkflow run."""

    batches: list[RescanBatch]
    """This run's rescans, oldest first (the last 100)."""
    pending: list[str]


# --- remediation ------------------------------------------------------------------------------------------


class RemediationInput(Message):
    campaign_id: str
    tenant_key: str
    playbook_id: str
    findings: list[Finding] = Field(default_factory=list)
    """The campaign's findings by value (small campaigns); empty when they travel by `findings_digest`."""
    requested_by: str
    """Who asked for the change (`scan:<id>` or a person); a requester never approves their own change."""
    retention: timedelta = timedelta(days=7)
    """How long the captured prior state stays available for `mendflow rollback` after the rollout."""
    step_heartbeat: timedelta = timedelta(seconds=15)
    """A worker that dies mid-step is noticed after this long and the step runs again (steps are idempotent)."""
    findings_digest: str | None = None
    """Large campaigns: the findings as JSON lines in the snapshot store (then `findings` is empty), read in pages."""
    findings_count: int = 0
    """How many findings `findings_digest` holds."""
    page_size: int = 100
    """Targets read, captured, journalled and settled per activity call."""
    history_budget_bytes: int = 2_000_000
    """Continue as new (state carried over) at the next page boundary once this run's history is this large."""
    carry: CampaignCarry | None = None
    """State carried over from the previous run (continue-as-new); None for a new campaign."""

    @property
    def target_count(self) -> int:
        return self.findings_count if self.findings_digest else len(self.findings)


class CampaignTarget(Message):
    """One resource of a campaign, as the rollout needs it (no evidence, no preview)."""

    fingerprint: str
    resource: ResourceRef


class TargetsPage(Message):
    """Read `limit` targets from `offset` of a campaign's findings stored by digest."""

    digest: str
    offset: int
    limit: int


class StoreTargetsInput(Message):
    targets: list[CampaignTarget]
    """Targets to put into the snapshot store (a campaign's remaining findings, before it continues as new)."""


class PlanInput(Message):
    """What `plan_campaign` needs: the campaign and a preview page of its targets, never the whole list."""

    campaign_id: str
    tenant_key: str
    playbook_id: str
    preview: list[CampaignTarget]
    """The first targets, read for the card's before → after preview."""
    target_count: int


class PrepareInput(Message):
    """One page of targets to re-read and capture (in parallel, up to `concurrency` at once)."""

    tenant_key: str
    playbook_id: str
    targets: list[CampaignTarget]
    concurrency: int = 1


class PrepareResult(Message):
    changes: list[Change]
    """One per target, in the same order: `planned` with the captured `before`, `skipped`, or `failed`."""


class StepOutcome(Message):
    """What applying and verifying one change came to (the change itself stays in the workflow)."""

    outcome: Outcome
    detail: str = ""


class ChangesInput(Message):
    """A chunk of captured changes to apply and verify in one activity, up to `concurrency` at once."""

    tenant_key: str
    playbook_id: str
    changes: list[Change]
    """Each with its captured `before` and intended `after`, outcome `planned`."""
    concurrency: int = 1
    failures_allowed: int = 0
    """Once more changes than this have failed, no further one is started (the campaign then rolls back)."""


class ChangesResult(Message):
    outcomes: list[StepOutcome | None]
    """One per change, in the same order; None: not started (the chunk stopped on failures)."""


class JournalEntry(Message):
    fingerprint: str
    change: Change


class JournalInput(Message):
    entries: list[JournalEntry]
    """Changes written by one run of a campaign, in write order (rollback reads them newest first)."""


class JournalPage(Message):
    entries: list[JournalEntry]


class CampaignCarry(Message):
    """A campaign's state handed from one run to the next (continue-as-new); small at any campaign size.

    Per-target rollback state of earlier runs lives in the snapshot store (`journal`, by digest); only counts and
    the current position travel here.
    """

    plan: CampaignPlanDetail
    state: str
    phase: str
    """`rollout`, `retention` or `rollback`: where the next run picks up."""
    cursor: int = 0
    """Position of the next target to capture."""
    batch_sizes: list[int] = Field(default_factory=list)
    batch_index: int = 0
    done_in_batch: int = 0
    failures: int = 0
    journal: list[str] = Field(default_factory=list)
    """Digests of the changes written by earlier runs, oldest run first."""
    totals: dict[str, int] = Field(default_factory=dict)
    """Outcome → number of targets, over every run."""
    decisions: list[Decision] = Field(default_factory=list)
    verdict: Verdict | None = None
    rollback_votes: list[Decision] = Field(default_factory=list)
    rollback_reason: str = ""
    timeline: list[JsonObject] = Field(default_factory=list)
    """The last events (the full count is `events`)."""
    events: int = 0
    published: int = 0
    paused: bool = False
    aborted: bool = False
    escalated: bool = False
    writes: list[float] = Field(default_factory=list)
    refs: PublishRefs = Field(default_factory=lambda: PublishRefs())
    nonces: list[str] = Field(default_factory=list)
    """Nonces of signed requests already accepted (a replayed proof stays refused after continue-as-new)."""
    retention_until: datetime | None = None
    runs: int = 1


class Target(Message):
    """One resource of a campaign as planned: what the action would write, as read at planning time."""

    fingerprint: str
    resource: ResourceRef
    current: JsonObject
    intended: JsonObject


class CampaignPlanDetail(Message):
    """Everything the workflow needs to run a campaign, resolved once by the `plan_campaign` activity."""

    campaign_id: str
    tenant_key: str
    playbook_id: str
    title: str
    severity: Severity
    compliance: list[str]
    mode: str
    action: str
    reversible: bool
    targets: list[Target]
    approvers: list[str]
    required_approvals: int
    approval_timeout: timedelta
    escalate_after: timedelta | None
    escalate_to: str | None
    canary: int
    batches: list[int | str]
    bake: timedelta
    max_failures: int
    writes_per_minute: int
    target_count: int = 0
    """How many targets the campaign has; `targets` is a preview of at most the first `PREVIEW_TARGETS`."""
    concurrency: int = 1
    """Targets changed at once within a batch (the tenant's configured limit)."""
    published: bool = True
    """Whether the campaign has a card or ticket to keep in step (approval/ticket mode with Slack or Jira
    configured); when False the workflow schedules no publish activity at all."""
    trusted_keys: dict[str, str] = Field(default_factory=dict)
    """key id → base64 Ed25519 public key: the API keys whose signed decisions this campaign accepts. Taken from
    the WORKER's config by `plan_campaign`, never from the workflow input or a request."""


class OperatorRequest(Message):
    """A person asking to pause, resume, abort or roll back a campaign."""

    operator: str
    """mendflow identity of the person asking."""
    groups: tuple[str, ...] = ()
    """Their groups, as resolved by the API from server-side config (must equal the signed claims)."""
    channel: Channel = Channel.cli
    reason: str = ""
    """Why (already redacted by the API)."""
    proof: Proof | None = None
    """The API's signature over this request; the workflow refuses a request without a valid one."""


class ChangeStep(Message):
    """One activity call on one resource of a campaign."""

    tenant_key: str
    playbook_id: str
    resource: ResourceRef
    change: Change | None = None
    """The change so far (its `before` is the captured state); absent for the first step."""


class WindowInput(Message):
    tenant_key: str
    at: datetime
    """Workflow time: the window is judged at the workflow's now, so time-skipping tests see freezes end."""


class WindowVerdict(Message):
    hold_until: datetime | None
    """None: writes are allowed now. Otherwise the end of the freeze window."""
    reason: str = ""
    open_until: datetime | None = None
    """With writes allowed: until when this verdict holds (the next freeze's start, at most a minute ahead); a
    campaign asks again only after it. None from workers before it was added: ask every time."""


class EscalationInput(Message):
    """An approval still undecided after `escalate_after`: a campaign's gate, or a response run's approve step."""

    campaign_id: str
    """The campaign's id, or the response run's (either is what `mendflow approve` takes)."""
    playbook_id: str
    escalate_to: str | None
    waited: timedelta
    step_id: str = ""
    """The response run's approve step that waits; empty for a campaign."""


class RemediationResult(Message):
    campaign_id: str
    playbook_id: str
    tenant_key: str
    changes: list[Change]
    outcome: str
    """Final state: `completed`, `completed_with_failures`, `rolled_back`, `rejected`, `expired`, `aborted`,
    `nothing_to_do`."""


class SettleInput(Message):
    tenant_key: str
    campaign_id: str
    statuses: dict[str, str]
    """fingerprint → final ledger status."""


class PublishRefs(Message):
    """Where a campaign is shown: its Slack message and Jira ticket, once created."""

    slack_channel: str | None = None
    slack_ts: str | None = None
    jira_key: str | None = None


class CampaignStatus(Message):
    """What the status query returns: the plan, where the rollout is, every change and decision, a timeline."""

    campaign_id: str
    playbook_id: str
    state: str
    plan: CampaignPlanDetail | None = None
    batch: int = 0
    batches_total: int = 0
    paused: bool = False
    escalated: bool = False
    changes: list[Change] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    rollback_requests: list[Decision] = Field(default_factory=list)
    timeline: list[JsonObject] = Field(default_factory=list)
    """The latest events (at most `TIMELINE_KEPT`); `events` counts them all."""
    refs: PublishRefs | None = None
    """Its Slack card and Jira ticket, once published."""
    target_count: int = 0
    totals: dict[str, int] = Field(default_factory=dict)
    """Outcome → number of targets over the whole campaign (`changes` lists only the current run's)."""
    events: int = 0
    runs: int = 1
    """Runs of the workflow so far (a long campaign continues as new with its state carried over)."""


# --- suppression ------------------------------------------------------------------------------------------


class SuppressionInput(Message):
    """Accept the risk of one finding until `expires_at` (a durable timer re-opens it)."""

    fingerprint: str
    reason: str
    """Why the risk is accepted (already redacted by the API)."""
    requested_by: str
    """mendflow identity of the person accepting the risk."""
    groups: tuple[str, ...] = ()
    """Their groups, as resolved by the API from server-side config (must equal the signed claims)."""
    expires_at: datetime
    proof: Proof | None = None
    """The API's signature over this request; the worker refuses a suppression without a valid one."""


class SuppressionStep(Message):
    fingerprint: str
    reference: str
    """The suppression workflow id, so only this suppression can re-open what it parked."""
    requested_by: str = ""
    groups: tuple[str, ...] = ()
    proof: Proof | None = None
    """Passed on from `SuppressionInput`: the activity verifies it against the worker's trusted keys."""
    reason: str = ""
    requested_at: datetime | None = None
    """When the suppression workflow started: the proof is judged fresh as of then, so retries still pass."""


class SuppressionOutcome(Message):
    """What the caller of `suppress` learns once the worker has checked the request."""

    accepted: bool
    message: str
    """Why it was refused, or until when the finding is parked."""


class SuppressionResult(Message):
    fingerprint: str
    suppressed_until: datetime
    reopened: bool
    """False when the finding was resolved (or re-scanned away) before the suppression ended."""
    refused: str = ""
    """Why the worker refused the suppression (nothing was parked); empty when it was accepted."""


# --- publishing (Slack card, Jira ticket) -------------------------------------------------------------------


class PublishInput(Message):
    """A nudge to bring a campaign's card and ticket up to date (created on first publish).

    The workflow never sends its status here: the activity queries its own workflow for it (queries are not
    recorded in history), so publishing costs the same few bytes of history at any campaign size.
    """

    refs: PublishRefs
    event: str
    """What just happened (`planned`, `approved by alice`, `batch 2 of 3`, `rolled back` …), for comments."""
    step: int | None = None
    """Timeline events up to this publish: the idempotency key of its comment (default: `status`'s timeline)."""
    status: CampaignStatus | None = None
    """Rendered as given when present (tools and tests); absent from the workflow, which is queried instead."""
