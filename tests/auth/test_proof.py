"""Signed claims and the policy on top of them, without Temporal: every way a proof can be wrong is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mendflow.auth import DecisionSigner, ProofRefused, check_decision, check_operator, verify
from mendflow.models import AuthMethod, Channel, Decision, Proof, Severity, Verdict
from mendflow.rbac import Person, RbacConfig
from mendflow.workflow_types import CampaignPlanDetail, OperatorRequest

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
WF = "remediate/github:acme/hooks/abc"
RBAC = RbacConfig(people={"alice": Person(groups=("secops-oncall",)), "mallory": Person(groups=("sales",))})


def signer(at: datetime = NOW) -> DecisionSigner:
    return DecisionSigner(Ed25519PrivateKey.generate(), clock=lambda: at)


SIGNER = signer()


def plan(trusted: dict[str, str] | None = None) -> CampaignPlanDetail:
    return CampaignPlanDetail(
        campaign_id=WF, tenant_key="github:acme", playbook_id="hooks", title="t", severity=Severity.high,
        compliance=[], mode="approval", action="a", reversible=True, targets=[], approvers=["group:secops-oncall"],
        required_approvals=1, approval_timeout=timedelta(hours=4), escalate_after=None, escalate_to=None, canary=1,
        batches=["100%"], bake=timedelta(0), max_failures=0, writes_per_minute=60,
        trusted_keys=SIGNER.trusted if trusted is None else trusted,
    )  # fmt: skip


def decision(
    person: str = "alice", groups: tuple[str, ...] | None = None, *, by: DecisionSigner = SIGNER, wf: str = WF
) -> Decision:
    groups = RBAC.groups_of(person) if groups is None else groups
    proof = by.sign(workflow_id=wf, verb="decide", verdict="approve", actor=person, groups=groups,
                    auth=AuthMethod.token, channel=Channel.api, reason="ok")  # fmt: skip
    return Decision(approver=person, groups=groups, verdict=Verdict.approve, channel=Channel.api, reason="ok",
                    proof=proof)  # fmt: skip


def check(d: Decision, *, now: datetime = NOW, nonces: set[str] | None = None, requested_by: str = "scan:1") -> str:
    claims = check_decision(d, workflow_id=WF, plan=plan(), awaiting=True, state="awaiting_approval",
                            requested_by=requested_by, decisions=[], nonces=nonces or set(), now=now)  # fmt: skip
    return claims.actor


def refusal(d: Decision, **kwargs: object) -> str:
    with pytest.raises(ValueError) as err:
        check(d, **kwargs)  # type: ignore[arg-type]
    return str(err.value)


def test_a_signed_decision_of_an_approver_is_accepted() -> None:
    """The proof verifies against the plan's trusted key and RBAC uses the groups inside it."""
    assert check(decision()) == "alice"


def test_an_unsigned_decision_is_refused() -> None:
    """A hand-made decision (no proof), as sent straight to Temporal, is refused before any policy."""
    d = decision().model_copy(update={"proof": None})
    assert "unsigned request" in refusal(d)


def test_a_decision_signed_by_an_unknown_key_is_refused() -> None:
    """A key the worker does not trust (someone else's API, an attacker's key) counts for nothing."""
    assert "unknown key" in refusal(decision(by=signer()))


def test_a_forged_signature_is_refused() -> None:
    """Claims edited after signing (groups granted, another person) no longer match the signature."""
    good = decision("mallory")
    assert good.proof is not None
    forged_claims = good.proof.claims.replace('"sales"', '"secops-oncall"')
    forged = good.model_copy(update={"groups": ("secops-oncall",),
                                     "proof": Proof(key_id=good.proof.key_id, claims=forged_claims,
                                                    signature=good.proof.signature)})  # fmt: skip
    assert "signature does not match" in refusal(forged)


def test_caller_supplied_groups_that_differ_from_the_signed_ones_are_refused() -> None:
    """The request's own `groups` must be what the API resolved; a relay cannot add a group."""
    d = decision("mallory").model_copy(update={"groups": ("secops-oncall",)})
    assert "differs from what the API signed" in refusal(d)


def test_a_relayed_decision_with_another_channel_user_is_refused() -> None:
    """The channel's user id goes to the audit trail; a relay cannot swap it for someone else's."""
    d = decision().model_copy(update={"channel_user": "U0MALLORY"})
    assert "channel_user differs from what the API signed" in refusal(d)


def test_an_expired_proof_is_refused() -> None:
    """A proof is good for a minute; presented later it is refused."""
    assert "expired" in refusal(decision(), now=NOW + timedelta(minutes=2))


def test_a_replayed_proof_is_refused() -> None:
    """A nonce the workflow already accepted cannot be used again."""
    d = decision()
    assert d.proof is not None
    from mendflow.auth import nonce_of

    assert "replayed" in refusal(d, nonces={nonce_of(d.proof.claims)})


def test_a_proof_for_another_workflow_is_refused() -> None:
    """A proof binds the workflow id: approving one campaign cannot approve another."""
    assert "another workflow" in refusal(decision(wf="remediate/other"))


def test_policy_applies_to_the_signed_identity() -> None:
    """A validly signed non-approver is refused by RBAC; the requester of a person-started change by four-eyes."""
    assert "may not approve" in refusal(decision("mallory"))
    assert "four-eyes" in refusal(decision("alice"), requested_by="alice")


def test_an_operator_request_is_bound_to_its_verb() -> None:
    """A signed `pause` cannot be replayed as an `abort`."""
    groups = RBAC.groups_of("alice")
    proof = SIGNER.sign(workflow_id=WF, verb="pause", actor="alice", groups=groups, auth=AuthMethod.token,
                        channel=Channel.cli, reason="")  # fmt: skip
    request = OperatorRequest(operator="alice", groups=groups, proof=proof)
    assert check_operator(request, verb="pause", workflow_id=WF, plan=plan(), nonces=set(), now=NOW).actor == "alice"
    with pytest.raises(ProofRefused, match="another workflow"):
        check_operator(request, verb="abort", workflow_id=WF, plan=plan(), nonces=set(), now=NOW)


def test_a_worker_without_trusted_keys_refuses_everything() -> None:
    """Fail-safe default: no trusted key configured, no decision accepted."""
    with pytest.raises(ProofRefused, match="unknown key"):
        verify(decision().proof, trusted={}, workflow_id=WF, verb="decide", now=NOW)
