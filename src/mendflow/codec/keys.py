"""The payload key ring: which AES-256 key encrypts Temporal payloads and which older ones still decrypt.

Keys are named by secret reference (`env:NAME`, `file:/path`), like every other secret of mendflow; a key's text
is one line, the base64url of 32 random bytes. The first key of `--payload-keys` is the primary: it encrypts
everything written from now on. The others only decrypt, so histories written before a rotation stay readable
until they are gone (docs/security.md, "Payload encryption and key rotation").
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mendflow.errors import InputError
from mendflow.secrets import SecretRef

KEY_BYTES = 32
"""AES-256."""
KEY_FILE = "payload-codec.key"
"""The embedded stack's key, generated in the data directory on first start (mode 0600)."""
EMBEDDED_KEY_ID = "local-1"
"""Key id of the embedded stack's generated key."""
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PayloadKeys(BaseModel):
    """A key ring by reference: safe to log and to pass around (it holds no key material)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    primary: str
    """Key id that encrypts new payloads; it is written into each payload's metadata."""
    keys: dict[str, SecretRef] = Field(min_length=1)
    """Key id → where its key lives; every key here decrypts."""

    @model_validator(mode="after")
    def _primary_known(self) -> Self:
        bad = [k for k in self.keys if not _KEY_ID.match(k)]
        if bad:
            raise ValueError(f"key ids must be letters, digits, '.', '_' or '-' (up to 64): {bad[0][:64]!r}")
        if self.primary not in self.keys:
            raise ValueError(f"primary key {self.primary!r} is not one of the keys ({', '.join(self.keys)})")
        return self

    @classmethod
    def parse(cls, text: str) -> PayloadKeys:
        """`ID=REF[,ID=REF…]` (the `--payload-keys` option); the first key is the primary. InputError if malformed
        (naming the entry's key id or position, never a value)."""
        keys: dict[str, SecretRef] = {}
        for index, entry in enumerate(e.strip() for e in text.split(",")):
            key_id, sep, ref = entry.partition("=")
            if not sep or not key_id or not ref:
                raise InputError(f"--payload-keys: entry {index + 1} is not ID=env:NAME or ID=file:/path")
            if not _KEY_ID.match(key_id):
                raise InputError(f"--payload-keys: entry {index + 1}: a key id is letters, digits, '.', '_', '-'")
            if key_id in keys:
                raise InputError(f"--payload-keys: key id {key_id!r} is given twice")
            try:
                keys[key_id] = SecretRef(ref=ref)
            except ValueError:
                raise InputError(f"--payload-keys: key {key_id!r}: expected env:NAME or file:/path") from None
        if not keys:
            raise InputError("--payload-keys: no keys given")
        return cls(primary=next(iter(keys)), keys=keys)

    def resolve(self) -> dict[str, bytes]:
        """Read every key now (each registered with the redactor); InputError naming the key id if one is missing
        or is not 32 bytes of base64url."""
        return {key_id: key_bytes(key_id, ref.resolve()) for key_id, ref in self.keys.items()}


def key_bytes(key_id: str, text: str) -> bytes:
    """The 32 bytes of a key's text, or InputError naming the key id (never the text)."""
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise InputError(f"payload key {key_id!r} is not {KEY_BYTES} bytes of base64url; see docs/security.md, "
                         "\"Payload encryption and key rotation\", for how to make one")  # fmt: skip
    return raw


def new_key_text() -> str:
    """A fresh key as one line of base64url."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def ensure_key_file(path: Path) -> Path:
    """Create a key at `path` (mode 0600, never readable by others even for a moment) unless one is there."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of the same stack made it first: use theirs
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new_key_text() + "\n")
    return path


def embedded_keys(data_dir: Path) -> PayloadKeys:
    """The embedded stack's ring: one key generated in `data_dir` on first start and reused after."""
    path = ensure_key_file(data_dir / KEY_FILE).resolve()
    return PayloadKeys(primary=EMBEDDED_KEY_ID, keys={EMBEDDED_KEY_ID: SecretRef(ref=f"file:{path}")})


__all__ = [
    "EMBEDDED_KEY_ID",
    "KEY_BYTES",
    "KEY_FILE",
    "PayloadKeys",
    "embedded_keys",
    "ensure_key_file",
    "key_bytes",
    "new_key_text",
]
