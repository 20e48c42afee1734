"""The API's side of signed decisions: an Ed25519 key (by secret reference) that signs each request's claims.

Only the API holds the private key. Workers hold the public key under a key id in their own config
(`security.trusted_keys`), so a request sent straight to Temporal, or signed by any other key, is refused.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from mendflow.auth.proof import Claims, b64decode, b64encode, canonical
from mendflow.errors import InputError
from mendflow.models import AuthMethod, Channel, Proof
from mendflow.redaction import register_secret
from mendflow.secrets import SecretRef

PROOF_TTL = timedelta(seconds=60)
"""A signed request is good for a minute: long enough to reach the workflow, too short to be worth stealing."""


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half as configured on workers: base64url of its 32 raw bytes."""
    return b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def key_id_for(public: str) -> str:
    """A key id derived from the public key, so two keys never share an id."""
    return "ed25519:" + hashlib.sha256(public.encode()).hexdigest()[:16]


def private_key_text(key: Ed25519PrivateKey) -> str:
    return b64encode(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def load_private_key(ref: SecretRef) -> Ed25519PrivateKey:
    """The signing key from its reference (one line: base64url of the 32-byte seed)."""
    text = ref.resolve()
    try:
        return Ed25519PrivateKey.from_private_bytes(b64decode(text.strip()))
    except ValueError:
        raise InputError(f"signing key {ref.ref}: not a base64 Ed25519 private key (32 bytes)") from None


def ensure_key_file(path: Path) -> Path:
    """Create a signing key at `path` (mode 0600) unless one is there; the embedded stack's default key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(private_key_text(Ed25519PrivateKey.generate()) + "\n")
    return path


class DecisionSigner:
    """Signs the claims of each request the API passes on to a workflow."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        *,
        key_id: str | None = None,
        ttl: timedelta = PROOF_TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._key = key
        self.public_key = public_key_text(key)
        self.key_id = key_id or key_id_for(self.public_key)
        self.ttl = ttl
        self.clock = clock
        register_secret(private_key_text(key))

    @classmethod
    def generate(cls, *, ttl: timedelta = PROOF_TTL) -> DecisionSigner:
        """A signer with a fresh key (tests, benchmarks; production keys come by reference)."""
        return cls(Ed25519PrivateKey.generate(), ttl=ttl)

    @classmethod
    def from_ref(cls, ref: SecretRef, *, key_id: str | None = None) -> DecisionSigner:
        return cls(load_private_key(ref), key_id=key_id)

    @property
    def trusted(self) -> dict[str, str]:
        """`{key_id: public key}`: what a worker puts in `security.trusted_keys` to accept this signer."""
        return {self.key_id: self.public_key}

    def sign(
        self,
        *,
        workflow_id: str,
        verb: str,
        actor: str,
        groups: Iterable[str],
        auth: AuthMethod,
        channel: Channel,
        verdict: str = "",
        reason: str = "",
        channel_user: str = "",
    ) -> Proof:
        now = self.clock()
        claims = Claims(
            workflow_id=workflow_id,
            verb=verb,
            verdict=verdict,
            actor=actor,
            groups=tuple(groups),
            auth=auth,
            channel=channel,
            channel_user=channel_user,
            reason=reason,
            nonce=secrets.token_urlsafe(16),
            issued_at=now,
            expires_at=now + self.ttl,
        )
        text = canonical(claims)
        return Proof(key_id=self.key_id, claims=text, signature=b64encode(self._key.sign(text.encode())))


__all__ = [
    "PROOF_TTL",
    "DecisionSigner",
    "ensure_key_file",
    "key_id_for",
    "load_private_key",
    "private_key_text",
    "public_key_text",
]
