"""Whether a signed request may act: proof first, then policy on the identity and groups INSIDE the proof.

Pure functions called by the workflow validators (and the suppression activity), so the rules are testable
without Temporal and every channel is held to exactly the same checks. Every refusal is a `ValueError` whose
message is what the caller is told.

Four-eyes: a campaign a person asked for (`requested_by` is a person, e.g. a rollback or a run) can never be
approved by that person; a campaign a scan started (`requested_by` = `scan:<id>`) has no human requester, so its
playbook / severity tier sets how many DISTINCT approvers it needs (`required_approvals`, N-of-M).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from datetime import datetime

from mendflow.auth.proof import Claims, matches, verify
from mendflow.models import Decision, Proof, Verdict
from mendflow.rbac import is_allowed
from mendflow.workflow_types import CampaignPlanDetail, OperatorRequest, SuppressionStep

PLANNING = "the campaign is still being planned; try again in a moment"


def nonce_of(proof_claims: str) -> str:
    """The nonce of an already verified proof (update handlers record it; replay never re-validates)."""
    return Claims.model_validate_json(proof_claims).nonce


def check_decision(
    decision: Decision,
    *,
    workflow_id: str,
    plan: CampaignPlanDetail | None,
    awaiting: bool,
    state: str,
    requested_by: str,
    decisions: Iterable[Decision],
    nonces: Container[str],
    now: datetime,
) -> Claims:
    """The verified claims of an approval/rejection this campaign may accept; else ValueError saying why."""
    plan, claims = _verified(decision.proof, plan=plan, workflow_id=workflow_id, verb="decide", nonces=nonces, now=now)
    matches(
        claims,
        actor=decision.approver,
        groups=decision.groups,
        verdict=decision.verdict.value,
        channel=decision.channel,
        channel_user=decision.channel_user,
        reason=decision.reason,
    )
    if not awaiting:
        raise ValueError(f"the campaign is not awaiting a decision (state: {state})")
    _check_approver(claims, plan, "approve")
    if claims.actor == requested_by:
        raise ValueError("the requester of a change cannot decide on it (four-eyes)")
    if any(d.approver == claims.actor for d in decisions):
        raise ValueError(f"{claims.actor} has already decided on this campaign")
    if claims.verdict == Verdict.reject.value and not claims.reason.strip():
        raise ValueError("a rejection needs a reason")
    return claims


def check_operator(
    request: OperatorRequest,
    *,
    verb: str,
    workflow_id: str,
    plan: CampaignPlanDetail | None,
    nonces: Container[str],
    now: datetime,
) -> Claims:
    """The verified claims of a pause/resume/abort/rollback by someone allowed to operate this campaign."""
    plan, claims = _verified(request.proof, plan=plan, workflow_id=workflow_id, verb=verb, nonces=nonces, now=now)
    matches(claims, actor=request.operator, groups=request.groups, channel=request.channel, reason=request.reason)
    _check_approver(claims, plan, "operate")
    return claims


def _verified(
    proof: Proof | None,
    *,
    plan: CampaignPlanDetail | None,
    workflow_id: str,
    verb: str,
    nonces: Container[str],
    now: datetime,
) -> tuple[CampaignPlanDetail, Claims]:
    """The planned campaign and the proof's verified claims: one path, so decisions and operator requests
    are verified against the same keys in the same way."""
    if plan is None:
        raise ValueError(PLANNING)
    claims = verify(proof, trusted=plan.trusted_keys, workflow_id=workflow_id, verb=verb, now=now, seen_nonces=nonces)
    return plan, claims


def _check_approver(claims: Claims, plan: CampaignPlanDetail, doing: str) -> None:
    """Only the playbook's approvers may approve or operate its campaigns (the message names what was refused)."""
    if not is_allowed(claims.actor, claims.groups, plan.approvers):
        raise ValueError(f"{claims.actor} may not {doing} {plan.playbook_id} (approvers: {', '.join(plan.approvers)})")


def check_suppression(
    step: SuppressionStep, *, trusted: Mapping[str, str], suppressors: Iterable[str], requested_at: datetime
) -> Claims:
    """The verified claims of a suppression by someone allowed to accept risks (judged at `requested_at`, the
    workflow's start, so a retried activity is not refused for the proof's age)."""
    claims = verify(step.proof, trusted=trusted, workflow_id=step.reference, verb="suppress", now=requested_at)
    matches(claims, actor=step.requested_by, groups=step.groups, reason=step.reason)
    suppressors = tuple(suppressors)
    if not is_allowed(claims.actor, claims.groups, suppressors):
        raise ValueError(f"{claims.actor} may not accept risks (suppressors: {', '.join(suppressors)})")
    return claims


__all__ = ["PLANNING", "check_decision", "check_operator", "check_suppression", "nonce_of"]
