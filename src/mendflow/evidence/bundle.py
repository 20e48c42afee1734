"""The evidence bundle's layout and its two containers: a directory, or a deterministic `.tar.gz`.

    manifest.json     what was exported (window, framework, audit segment) and the sha256 of every other file
    manifest.sig      Ed25519 signature of manifest.json's exact bytes, with the public key and its id
    findings.jsonl    ledger rows seen or changed in the window, redacted, with their status history
    decisions.jsonl   approvals and rejections: the decision records of audit.jsonl
    changes.jsonl     writes and restores: resource, action, result, before/after snapshot digests
    audit.jsonl       the audit chain segment, each line exactly as it was hashed
    compliance.json   findings by framework control (`compliance.compliance_map`)
    snapshots/sha256/<hex>.jsonl   every before/after state the changes name, under its own digest

JSON is canonical (sorted keys, no spaces, UTF-8), so the same database, window and key give the same bytes;
the tar has sorted entries, zero times and owners, and a gzip header without a name or time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict

from mendflow.errors import InputError

FORMAT = "mendflow-evidence/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FINDINGS = "findings.jsonl"
DECISIONS = "decisions.jsonl"
CHANGES = "changes.jsonl"
AUDIT = "audit.jsonl"
COMPLIANCE = "compliance.json"
SNAPSHOTS = "snapshots/sha256/"

MAX_MEMBER = 1 << 30
"""Largest file a bundle may hold (a tar claiming more is refused before it is read)."""


def canonical(value: Any) -> bytes:
    """The one JSON encoding of the bundle."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def jsonl(items: Iterable[Any]) -> bytes:
    return b"".join(canonical(item) + b"\n" for item in items)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot_path(digest: str) -> str:
    """`sha256:<hex>` → its file in the bundle."""
    return f"{SNAPSHOTS}{digest.removeprefix('sha256:')}.jsonl"


class AuditSegment(BaseModel):
    """Where the exported part of the chain sits, so its links can be checked without the database."""

    model_config = ConfigDict(extra="forbid")

    count: int
    first_seq: int | None = None
    """Row number (`audit_log.seq`) of the first exported record; None when the window holds none."""
    last_seq: int | None = None
    anchor: str = ""
    """`prev` of the first exported record: the digest of the record before the window (zeros at the start)."""
    head: str = ""
    """sha256 of the last exported line: what the next record's `prev` is."""


class Manifest(BaseModel):
    """What a bundle holds; signed, so every digest in it is vouched for by the key."""

    model_config = ConfigDict(extra="forbid")

    format: str = FORMAT
    since: str
    until: str
    framework: str
    """`SOC2`, `ISO27001`, `NIST-CSF`, `CIS`, or `all`."""
    source: str
    """The database exported from (password masked)."""
    audit: AuditSegment
    counts: dict[str, int]
    """Findings, decisions, changes and snapshots in the bundle."""
    missing_snapshots: list[str] = []
    """Digests the changes name that the store no longer held (retention): listed, not silently dropped."""
    files: dict[str, str]
    """Path → sha256 of every file but the manifest and its signature."""


class Signature(BaseModel):
    """`manifest.sig`."""

    model_config = ConfigDict(extra="forbid")

    algorithm: str = "Ed25519"
    key_id: str
    """`ed25519:` + the first 16 hex digits of sha256(public key): the fingerprint to compare out of band."""
    public_key: str
    """base64url of the 32 raw public-key bytes."""
    signature: str
    """base64url of the signature of manifest.json's bytes."""


def write_bundle(out: Path, files: dict[str, bytes]) -> None:
    """Write a directory, or a `.tar.gz` when `out` ends so; never over an existing path."""
    if out.exists():
        raise InputError(f"--out {out}: already exists (an evidence bundle is never overwritten)")
    out.parent.mkdir(parents=True, exist_ok=True)
    if _is_tar(out):
        _write_tar(out, files)
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    for name, data in files.items():
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    os.replace(staging, out)  # a bundle appears whole or not at all


def _is_tar(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


def _write_tar(out: Path, files: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, out)


def read_bundle(path: Path) -> dict[str, bytes]:
    """Every file of a bundle by its relative path; InputError for what is not a bundle at all."""
    if path.is_dir():
        files = {}
        for item in sorted(path.rglob("*")):
            if item.is_symlink():
                raise InputError(f"{item}: a symbolic link in an evidence bundle (not written by mendflow)")
            if item.is_file():
                files[item.relative_to(path).as_posix()] = item.read_bytes()
    elif path.is_file() and _is_tar(path):
        files = _read_tar(path)
    elif path.exists():
        raise InputError(f"{path}: not an evidence bundle (expected a directory or a .tar.gz)")
    else:
        raise InputError(f"{path}: no such evidence bundle")
    if MANIFEST not in files or SIGNATURE not in files:
        raise InputError(f"{path}: not an evidence bundle (no {MANIFEST} and {SIGNATURE})")
    return files


def _read_tar(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar:
                name = PurePosixPath(member.name)
                if member.isdir():
                    continue
                if not member.isfile() or name.is_absolute() or ".." in name.parts or member.size > MAX_MEMBER:
                    raise InputError(f"{path}: member {member.name!r} is not a plain file inside the bundle")
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file always has content
                files[name.as_posix()] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise InputError(f"{path}: not a readable .tar.gz ({type(err).__name__})") from None
    return files


__all__ = [
    "AUDIT",
    "CHANGES",
    "COMPLIANCE",
    "DECISIONS",
    "FINDINGS",
    "FORMAT",
    "MANIFEST",
    "SIGNATURE",
    "SNAPSHOTS",
    "AuditSegment",
    "Manifest",
    "Signature",
    "canonical",
    "jsonl",
    "read_bundle",
    "sha256",
    "snapshot_path",
    "write_bundle",
]
