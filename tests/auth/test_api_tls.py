"""`mendflow api` serves HTTPS when given a certificate, and only loopback unless told otherwise."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import signal
import socket
import ssl
import sys
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from temporalio.testing import WorkflowEnvironment

MENDFLOW = str(Path(sys.executable).parent / "mendflow")


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "api.crt", tmp_path / "api.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_api_serves_https_on_loopback_by_default(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    """With --api-tls-cert/--api-tls-key the API answers over TLS (verified against its certificate) on 127.0.0.1."""
    cert, key = self_signed(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENDFLOW_")}
    proc = await asyncio.create_subprocess_exec(
        MENDFLOW, "api", "--port", str(port), "--data-dir", str(tmp_path / "data"),
        "--temporal-address", dev_env.client.service_client.config.target_host,
        "--api-tls-cert", str(cert), "--api-tls-key", str(key), "--audit-log", str(tmp_path / "audit.jsonl"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            line = (await proc.stdout.readline()).decode()
        assert f"https://127.0.0.1:{port}" in line, line
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert))) as http:
            answer = await http.get(f"https://127.0.0.1:{port}/healthz")
        assert answer.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = await proc.communicate()
    assert "Traceback" not in err.decode()
