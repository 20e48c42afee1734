"""Payload encryption for Temporal: a key ring by secret reference and an AES-256-GCM payload codec.

Never import this package from a workflow module (the sandbox cannot load `cryptography`); clients, workers,
replayers and the API's codec endpoint get it through `data_converter`.
"""

from mendflow.codec.aes import ENCODING, KEY_ID, AesGcmCodec, KeylessCodec, data_converter
from mendflow.codec.keys import (
    EMBEDDED_KEY_ID,
    KEY_BYTES,
    KEY_FILE,
    PayloadKeys,
    embedded_keys,
    ensure_key_file,
    key_bytes,
    new_key_text,
)

__all__ = [
    "EMBEDDED_KEY_ID",
    "ENCODING",
    "KEY_BYTES",
    "KEY_FILE",
    "KEY_ID",
    "AesGcmCodec",
    "KeylessCodec",
    "PayloadKeys",
    "data_converter",
    "embedded_keys",
    "ensure_key_file",
    "key_bytes",
    "new_key_text",
]
