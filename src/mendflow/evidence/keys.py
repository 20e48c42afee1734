"""The evidence signing key: by secret reference, or a key generated once in the data directory (mode 0600).

The private key signs manifests and is never written anywhere else; auditors get the public key (or just its
fingerprint, to compare with the one a bundle carries) out of band.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from mendflow.auth.proof import public_key
from mendflow.auth.signing import ensure_key_file, key_id_for, load_private_key, public_key_text
from mendflow.errors import InputError
from mendflow.secrets import SecretRef

KEY_FILE = "evidence-signing.key"
"""The embedded default's key, inside the data directory."""


def signing_key(data_dir: Path, ref: str | None = None) -> Ed25519PrivateKey:
    """The key `ref` names (`env:NAME`, `file:/path`), else the data directory's own (created on first use)."""
    if ref is None:
        ref = f"file:{ensure_key_file(data_dir / KEY_FILE).resolve()}"
    try:
        secret = SecretRef(ref=ref)
    except ValidationError:
        raise InputError(f"--signing-key {ref!r}: expected env:NAME or file:/path") from None
    return load_private_key(secret)


def public_text(key: Ed25519PrivateKey) -> str:
    """base64url of the 32 raw public-key bytes (what `evidence verify --public-key` takes)."""
    return public_key_text(key)


def fingerprint(public: str) -> str:
    """`ed25519:<16 hex>`: short enough to read over the phone."""
    return key_id_for(public)


def parse_public_key(value: str) -> tuple[str, Ed25519PublicKey]:
    """`--public-key`: the key's text, or a file holding it; returns the text and the key."""
    text = value.strip()
    path = Path(text)
    if len(text) != 43 and path.is_file():  # 43 characters: a key itself, not a file name
        text = path.read_text(encoding="utf-8").strip()
    try:
        return text, public_key(text)
    except ValueError:
        raise InputError(
            f"--public-key: {value!r} is not a base64 Ed25519 public key (32 bytes) or a file of one"
        ) from None


__all__ = ["KEY_FILE", "fingerprint", "parse_public_key", "public_text", "signing_key"]
