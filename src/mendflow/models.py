"""The domain vocabulary every part of mendflow speaks: resources, findings, changes.

Resources are named by their canonical API path (see docs/tenant-format.md), so anyone can find the object a
finding or a change is about. All models are pydantic v2 and travel through Temporal via the pydantic data
converter.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

JsonObject = dict[str, Any]


class Frozen(BaseModel):
    """Base for value objects: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Severity(StrEnum):
    """Finding severity, ordered from least to most urgent."""

    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        """0 for info … 4 for critical, for sorting."""
        return list(Severity).index(self)


class ResourceRef(Frozen):
    """Names one vendor object: its mendflow type and canonical API path."""

    type: str
    """mendflow resource type, e.g. `github.repo_hook`."""
    id: str
    """Canonical API path that GETs the object, e.g. `/repos/acme/api/hooks/12`."""


class Resource(BaseModel):
    """One vendor object as the vendor's API returns it, plus what other endpoints said about it."""

    model_config = ConfigDict(extra="forbid")

    type: str
    id: str
    data: JsonObject
    """The vendor's own JSON object (the body its GET returns)."""
    related: JsonObject = Field(default_factory=dict)
    """Facts read from other endpoints (e.g. a repo's default-branch protection), keyed by name."""

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(type=self.type, id=self.id)


class RiskFactor(Frozen):
    """One multiplier of a risk score and why it applies (see `mendflow.findings.risk`)."""

    kind: str
    """`severity`, `exposure` or `criticality`."""
    label: str
    """What a person reads: `high severity`, `public repository`, `critical asset`."""
    weight: float


class RiskScore(Frozen):
    """How urgent a finding is here: severity × asset criticality × exposure, scaled to 0–100 (`findings.risk`)."""

    score: int = Field(ge=0, le=100)
    factors: tuple[RiskFactor, ...] = ()
    explanation: str = ""
    """`high severity (×4) · public repository (exposure ×2) · critical asset (×1.5)`."""


def fingerprint(tenant: str, rule: str, resource_id: str) -> str:
    """Stable identity of a finding: sha256 over (tenant, rule, resource id)."""
    material = "\x1f".join((tenant, rule, resource_id)).encode()
    return hashlib.sha256(material).hexdigest()


class Finding(Frozen):
    """A rule that holds for a resource in a tenant at one point in time."""

    fingerprint: str
    tenant: str
    provider: str
    rule: str
    """The playbook id that detected it."""
    title: str
    severity: Severity
    resource: ResourceRef
    evidence: JsonObject
    """Field path → value for every field the condition read."""
    compliance: tuple[str, ...] = ()
    observed_at: datetime
    """As-of time of the evaluation (a tenant file's `taken_at`, or the scan time)."""
    risk: RiskScore | None = None
    """Risk in this tenant (severity × criticality × exposure); None until `findings.risk.score_findings` ran."""


class Outcome(StrEnum):
    """What happened to one resource in a remediation."""

    planned = "planned"
    skipped = "skipped"
    applied = "applied"
    verified = "verified"
    failed = "failed"
    restored = "restored"
    restore_failed = "restore_failed"


class Change(BaseModel):
    """Before/after of one action on one resource, and how it ended."""

    model_config = ConfigDict(extra="forbid")

    resource: ResourceRef
    action: str
    before: JsonObject = Field(default_factory=dict)
    """The captured prior state of exactly the fields the action writes."""
    after: JsonObject = Field(default_factory=dict)
    """The intended state of those fields."""
    outcome: Outcome = Outcome.planned
    detail: str = ""
    """A human sentence on why the outcome is what it is (empty when obvious)."""


class Verdict(StrEnum):
    approve = "approve"
    reject = "reject"


class Channel(StrEnum):
    """Where a decision came from (recorded for auditors)."""

    cli = "cli"
    slack = "slack"
    jira = "jira"
    api = "api"


class AuthMethod(StrEnum):
    """How the person behind a request proved who they are at mendflow's API (recorded for auditors)."""

    token = "token"  # noqa: S105 (an auth method's name, not a secret)
    """A personal API token (`mendflow tokens create`)."""
    oidc = "oidc"
    """An OIDC bearer JWT from the configured issuer."""
    slack = "slack"
    """A Slack request signed with the app's signing secret (or a Socket Mode envelope)."""


class Proof(Frozen):
    """The API's Ed25519 signature over one request's claims (see `mendflow.auth.proof`).

    `claims` is the exact JSON text that was signed, so verifying never depends on how a model re-serialises.
    """

    key_id: str
    """Which of the worker's trusted public keys verifies `signature`."""
    claims: str
    """Canonical JSON of `mendflow.auth.proof.Claims`: workflow id, verb, verdict, actor, groups, auth method,
    channel, reason, nonce, issued-at and expiry."""
    signature: str
    """Base64url Ed25519 signature over the UTF-8 bytes of `claims`."""


class Decision(Frozen):
    """One person's answer to an approval gate."""

    approver: str
    """mendflow identity of the person (`alice`); channels map their own ids (Slack `U…`) to it."""
    groups: tuple[str, ...] = ()
    """The approver's groups, resolved by the API from its own RBAC config (and Slack user groups) and signed in
    `proof`; the validator uses the signed groups, never a caller's claim."""
    verdict: Verdict
    channel: Channel
    reason: str = ""
    channel_user: str = ""
    """The id the channel knows the person by (e.g. Slack user id), for the audit trail."""
    at: datetime | None = None
    """Filled in by the workflow (workflow time) when the decision is accepted."""
    proof: Proof | None = None
    """The API's signature over this decision; the workflow refuses a decision without a valid one."""


class DecisionOutcome(Frozen):
    """What the caller of `decide` learns at once."""

    accepted: bool
    message: str
    """Why it was refused, or what happens next."""
    state: str = ""
