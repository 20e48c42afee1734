"""A test API signing key: requests signed the way the API signs them, and settings whose workers trust it."""

from __future__ import annotations

from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mendflow.api import assemble
from mendflow.auth.signing import DecisionSigner
from mendflow.models import AuthMethod, Channel, Decision, Verdict
from mendflow.rbac import RbacConfig
from mendflow.settings import Settings
from mendflow.workflow_types import OperatorRequest

SIGNER = DecisionSigner(Ed25519PrivateKey.generate(), ttl=timedelta(days=3650))
"""Long-lived proofs: the session's time-skipping server runs months ahead of the wall clock after a few tests
(expiry itself is tested with a signer on the workflow's clock, in tests/auth/)."""


def trusting(settings: Settings, signer: DecisionSigner = SIGNER) -> Settings:
    """`settings` whose workers accept requests signed by `signer` (the test key unless told otherwise)."""
    return assemble.trusting(settings, signer)


def signed_decision(
    workflow_id: str,
    person: str,
    rbac: RbacConfig,
    verdict: Verdict = Verdict.approve,
    reason: str = "looks right",
    *,
    signer: DecisionSigner = SIGNER,
    channel: Channel = Channel.cli,
) -> Decision:
    groups = rbac.groups_of(person)
    proof = signer.sign(
        workflow_id=workflow_id, verb="decide", verdict=verdict.value, actor=person, groups=groups,
        auth=AuthMethod.token, channel=channel, reason=reason,
    )  # fmt: skip
    return Decision(approver=person, groups=groups, verdict=verdict, channel=channel, reason=reason, proof=proof)


def signed_request(
    workflow_id: str, verb: str, person: str, rbac: RbacConfig, reason: str = "on-call", *,
    signer: DecisionSigner = SIGNER,
) -> OperatorRequest:  # fmt: skip
    groups = rbac.groups_of(person)
    proof = signer.sign(
        workflow_id=workflow_id, verb=verb, actor=person, groups=groups, auth=AuthMethod.token,
        channel=Channel.cli, reason=reason,
    )  # fmt: skip
    return OperatorRequest(operator=person, groups=groups, channel=Channel.cli, reason=reason, proof=proof)
