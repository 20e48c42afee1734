"""Connecting to Temporal: the pydantic data converter (payloads encrypted when a key ring is given), optional
TLS/mTLS, and a one-line error if unreachable. Workers built on the client inherit its converter."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from temporalio.client import Client
from temporalio.service import TLSConfig

from mendflow.codec import PayloadKeys, data_converter
from mendflow.errors import ConnectionProblem, InputError
from mendflow.telemetry.tracing import tracing_interceptor

TASK_QUEUE = "mendflow"
STARTING_UP = "not healthy yet"
"""What a Temporal frontend that accepts connections but has not finished starting answers (the dev server says so
for a moment after its port opens, longer on a busy machine)."""
STARTUP_WAIT = 20.0
"""Seconds a connection keeps asking a frontend that is still starting."""


class TemporalSettings(BaseModel):
    """How to reach a Temporal cluster (the embedded dev server or any production cluster)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    tls: bool = False
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    payload_keys: PayloadKeys | None = None
    """Key ring encrypting every payload (AES-256-GCM, docs/security.md); None: payloads in clear text."""

    def tls_config(self) -> TLSConfig | bool:
        """TLS (and mTLS) from the PEM files; an unreadable file or half a client pair is the user's mistake
        (InputError naming the option), not "cannot reach Temporal"."""
        if not (self.tls or self.tls_ca or self.tls_cert or self.tls_key):
            return False
        if (self.tls_cert is None) != (self.tls_key is None):
            raise InputError("--tls-cert and --tls-key go together (mTLS needs the client certificate and its key)")
        return TLSConfig(
            server_root_ca_cert=_pem("--tls-ca", self.tls_ca),
            client_cert=_pem("--tls-cert", self.tls_cert),
            client_private_key=_pem("--tls-key", self.tls_key),
        )


def _pem(option: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"{option} {path}: cannot read it ({err.strerror or type(err).__name__})") from None


async def connect(settings: TemporalSettings) -> Client:
    """A client using the pydantic data converter and the payload codec of `settings.payload_keys` (workers and
    replayers must use the same one). An unreadable key is an InputError naming its key id."""
    converter = data_converter(settings.payload_keys)
    tls = settings.tls_config()  # before connecting: a bad file is bad input, not an unreachable server
    deadline = time.monotonic() + STARTUP_WAIT
    while True:
        try:
            return await Client.connect(
                settings.address,
                namespace=settings.namespace,
                tls=tls,
                data_converter=converter,
                # traces client → workflow → activity; workers built from this client inherit it
                interceptors=[tracing_interceptor()],
            )
        except Exception as err:  # the SDK raises RuntimeError with a long gRPC text; keep the user's line short
            if STARTING_UP in str(err) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)  # a server still starting (just launched, or a busy machine): ask again
                continue
            first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
            raise ConnectionProblem(
                f"cannot reach Temporal at {settings.address} (namespace {settings.namespace}): {first}; "
                "check the address and that the server is running (or use `mendflow up` for the embedded one)"
            ) from None
