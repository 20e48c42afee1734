"""Signed claims: what the API vouches for when it passes a request on, and how a worker checks it.

The API (the only holder of the Ed25519 private key) signs the canonical JSON of `Claims`; workflows and
activities verify it against the public keys from the WORKER's own config. This module is pure and
deterministic (no clock, no I/O: `now` is passed in), so workflow validators can call it through
`workflow.unsafe.imports_passed_through()`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Container, Mapping
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from mendflow.models import AuthMethod, Channel, Proof

CLOCK_SKEW = timedelta(seconds=30)
"""How far in the future `issued_at` may be (API and Temporal clocks differ a little)."""


class Claims(BaseModel):
    """What the API vouches for: who asked what of which workflow, how they authenticated, and until when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workflow_id: str
    """The one workflow this request is for (a proof for another workflow is refused)."""
    verb: str
    """`decide`, `pause`, `resume`, `abort`, `rollback` or `suppress`."""
    verdict: str = ""
    """`approve`/`reject` for `decide`; empty otherwise."""
    actor: str
    """mendflow identity, resolved by the API."""
    groups: tuple[str, ...] = ()
    """The actor's groups, resolved by the API from server-side config (RBAC people + Slack user groups)."""
    auth: AuthMethod
    channel: Channel
    channel_user: str = ""
    reason: str = ""
    """The (already redacted) reason, so a relay cannot change it."""
    nonce: str
    """Random; a workflow accepts each nonce once."""
    issued_at: datetime
    expires_at: datetime


class ProofRefused(ValueError):
    """The proof is missing, malformed, signed by an unknown key, wrong, expired, reused or about something else.

    A ValueError, so a workflow validator raising it refuses the update with this message."""


def canonical(claims: Claims) -> str:
    """The exact text that is signed (and carried in `Proof.claims`)."""
    return claims.model_dump_json()


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key(text: str) -> Ed25519PublicKey:
    """A trusted key as configured: base64(url) of the 32 raw public-key bytes."""
    try:
        return Ed25519PublicKey.from_public_bytes(b64decode(text.strip()))
    except (ValueError, binascii.Error):
        raise ValueError("not a base64 Ed25519 public key (32 bytes)") from None


def verify(
    proof: Proof | None,
    *,
    trusted: Mapping[str, str],
    workflow_id: str,
    verb: str,
    now: datetime,
    seen_nonces: Container[str] = (),
) -> Claims:
    """The claims of a valid, fresh, unused proof for `verb` on `workflow_id`; else `ProofRefused` saying why."""
    if proof is None:
        raise ProofRefused("unsigned request: decisions must come through mendflow's API")
    key = trusted.get(proof.key_id)
    if key is None:
        raise ProofRefused(f"signed by unknown key {proof.key_id[:40]!r}: not trusted by this worker")
    try:
        public_key(key).verify(b64decode(proof.signature), proof.claims.encode())
    except (InvalidSignature, ValueError, binascii.Error):
        raise ProofRefused("the signature does not match the request") from None
    try:
        claims = Claims.model_validate_json(proof.claims)
    except ValidationError:
        raise ProofRefused("the signed claims are malformed") from None
    if claims.workflow_id != workflow_id or claims.verb != verb:
        raise ProofRefused(f"the proof is for {claims.verb} on another workflow, not {verb} here")
    if claims.expires_at <= now:
        raise ProofRefused("the proof has expired; send the request again")
    if claims.issued_at > now + CLOCK_SKEW:
        raise ProofRefused("the proof was issued in the future; check the API host's clock")
    if claims.nonce in seen_nonces:
        raise ProofRefused("replayed proof: this signed request was already used")
    return claims


def matches(claims: Claims, **fields: object) -> None:
    """Refuse when the request's own fields differ from what was signed (a relay edited it)."""
    for name, value in fields.items():
        signed = getattr(claims, name)
        if (tuple(signed) if isinstance(signed, tuple) else signed) != (
            tuple(value) if isinstance(value, list | tuple) else value
        ):
            raise ProofRefused(f"the request's {name} differs from what the API signed")


__all__ = [
    "CLOCK_SKEW",
    "Claims",
    "ProofRefused",
    "b64decode",
    "b64encode",
    "canonical",
    "matches",
    "public_key",
    "verify",
]
