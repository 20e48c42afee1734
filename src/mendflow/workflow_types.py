"""Inputs and outputs of mendflow's workflows and activities: one pydantic model per call.

Kept free of I/O imports so workflow code can import it inside Temporal's sandbox. Large things (inventories,
finding lists of a whole scan) travel as snapshot digests, not values.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mendflow.models import Change, Finding, JsonObject, ResourceRef, Severity


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


class CampaignPlan(Message):
    """One campaign to start: a playbook's unowned open findings in one tenant."""

    campaign_id: str
    playbook_id: str
    findings: list[Finding]


class ReconcileResult(Message):
    new: int
    still_open: int
    gone: int
    campaigns: list[CampaignPlan]
    awaiting_decision: int
    """Open findings of playbooks that do not run automatically (approval, ticket, notify)."""


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
    gaps: list[str]
    evaluation_errors: int


# --- remediation ------------------------------------------------------------------------------------------


class RemediationInput(Message):
    campaign_id: str
    tenant_key: str
    playbook_id: str
    findings: list[Finding]
    requested_by: str


class ChangeStep(Message):
    """One activity call on one resource of a campaign."""

    tenant_key: str
    playbook_id: str
    resource: ResourceRef
    change: Change | None = None
    """The change so far (its `before` is the captured state); absent for the first step."""


class RemediationResult(Message):
    campaign_id: str
    playbook_id: str
    tenant_key: str
    changes: list[Change]
    outcome: str
    """`completed`, `completed_with_failures`, or `nothing_to_do`."""


class SettleInput(Message):
    tenant_key: str
    campaign_id: str
    statuses: dict[str, str]
    """fingerprint → final ledger status."""


class CampaignStatus(Message):
    """What the status query returns."""

    campaign_id: str
    playbook_id: str
    state: str
    changes: list[Change]
    timeline: list[JsonObject]
