"""AES-256-GCM payload codec: Temporal stores inventories, findings and captured states only as ciphertext.

    payload ──serialize──▶ AES-GCM(primary key, random 96-bit nonce, AAD = key id) ──▶ nonce ‖ ciphertext ‖ tag
    metadata: encoding = binary/encrypted, encryption-key-id = <key id>

Decoding looks the key up by the id in the metadata, so after a rotation old histories still decrypt as long as
the old key stays in the ring. Payloads without `binary/encrypted` pass through unchanged: histories recorded
before encryption was switched on still replay. The key id is bound as associated data, so a payload relabelled
with another key id fails authentication instead of being decrypted with the wrong key.

Keep this module out of workflow files: `cryptography` cannot be imported inside the workflow sandbox.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from mendflow.codec.keys import KEY_BYTES, PayloadKeys
from mendflow.errors import PayloadKeyError

ENCODING = b"binary/encrypted"
"""The `encoding` metadata of an encrypted payload (what Temporal's UI and CLI expect of a codec)."""
KEY_ID = "encryption-key-id"
"""Metadata naming the key that encrypted the payload."""
NONCE_BYTES = 12


class AesGcmCodec(PayloadCodec):
    """Encrypts with the ring's primary key; decrypts with whichever key the payload names."""

    def __init__(self, keys: Mapping[str, bytes], *, primary: str) -> None:
        if primary not in keys:
            raise PayloadKeyError(f"primary payload key {primary!r} is not in the key ring")
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                raise PayloadKeyError(f"payload key {key_id!r} is not {KEY_BYTES} bytes")
        self.primary = primary
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @classmethod
    def from_keys(cls, keys: PayloadKeys) -> AesGcmCodec:
        """Resolve the ring's secret references now (InputError naming a key id if one cannot be read)."""
        return cls(keys.resolve(), primary=keys.primary)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id that decrypts (the primary first)."""
        return (self.primary, *(k for k in self._ciphers if k != self.primary))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        """One payload sealed with the primary key."""
        key_id = self.primary.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.primary].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        """One payload opened with the key it names; a clear payload unchanged; PayloadKeyError naming the key id
        if the ring lacks it or the payload does not authenticate."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        raw_id = payload.metadata.get(KEY_ID, b"")
        key_id = raw_id.decode("utf-8", "replace")[:64]
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(self.key_ids)
            raise PayloadKeyError(
                f"payload encrypted with key {key_id!r}, which is not in the key ring ({known}); add that key "
                "(by secret reference) to --payload-keys after the primary"
            )
        try:
            clear = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], raw_id)
        except InvalidTag:
            raise PayloadKeyError(
                f"payload labelled with key {key_id!r} does not decrypt with that key (tampered, or a different key "
                "under the same id)"
            ) from None
        return Payload.FromString(clear)


class KeylessCodec(PayloadCodec):
    """A process given no key ring: it writes clear payloads and, meeting an encrypted one, says which key it needs
    (instead of the SDK's "unknown payload encoding")."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        for payload in payloads:
            if payload.metadata.get("encoding") == ENCODING:
                key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")[:64]
                raise PayloadKeyError(
                    f"Temporal payloads here are encrypted (key {key_id!r}) and this process has no key ring: give "
                    "it the deployment's keys with --payload-keys or MENDFLOW_PAYLOAD_KEYS (docs/security.md)"
                )
        return list(payloads)


def data_converter(keys: PayloadKeys | None) -> DataConverter:
    """The pydantic data converter, with payloads encrypted by `keys` when given (clients, workers and replayers
    must all use the same one). Failure messages and stack traces are moved into an encrypted payload too: an
    activity's error text can quote what it read. Without keys payloads stay clear, and meeting an encrypted one
    is a PayloadKeyError naming its key."""
    if keys is None:
        return dataclasses.replace(pydantic_data_converter, payload_codec=KeylessCodec())
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=AesGcmCodec.from_keys(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
