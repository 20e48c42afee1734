"""Verify an evidence bundle offline and name the first thing that does not match.

Order, cheapest trust first: the signature over manifest.json (with the key the auditor was given, or the one
the bundle carries) → every file's sha256 against the manifest, and no file the manifest does not list → the
audit segment's links, from its anchor to its head → every snapshot under its own digest, and every digest the
changes name present → decisions, changes and the compliance mapping recomputed from the rest. The last three
can only fail for a bundle signed by someone who holds the key but did not build it with mendflow.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from pydantic import BaseModel, ValidationError

from mendflow.auth.proof import b64decode, public_key
from mendflow.errors import EvidenceRefused
from mendflow.evidence.bundle import (
    AUDIT,
    CHANGES,
    COMPLIANCE,
    DECISIONS,
    FINDINGS,
    FORMAT,
    MANIFEST,
    SIGNATURE,
    SNAPSHOTS,
    Manifest,
    Signature,
    canonical,
    jsonl,
    sha256,
    snapshot_path,
)
from mendflow.evidence.changes import CHANGE_KIND, DECISION_KINDS, changes_of, decisions_of, snapshot_digests
from mendflow.evidence.compliance import Framework, compliance_map
from mendflow.evidence.keys import fingerprint


class Verified(BaseModel):
    """What a bundle that verifies holds, for the auditor's summary."""

    key_id: str
    public_key: str
    manifest: Manifest


def verify_bundle(files: dict[str, bytes], *, public: str | None = None) -> Verified:
    """Check `files` (from `read_bundle`); `public` is the key the signer is expected to hold. Raises
    `EvidenceRefused` naming the first file (and line) that does not match."""
    signature = _signature(files, public)
    manifest = _manifest(files[MANIFEST])
    _digests(files, manifest)
    _chain(files[AUDIT], manifest)
    try:
        changes = [json.loads(line) for line in files[CHANGES].splitlines()]
        findings = [json.loads(line) for line in files[FINDINGS].splitlines()]
    except ValueError:
        raise EvidenceRefused(f"{CHANGES} or {FINDINGS}: a line that is not JSON") from None
    _snapshots(files, manifest, changes)
    _derived(files, manifest, findings)
    return Verified(key_id=signature.key_id, public_key=signature.public_key, manifest=manifest)


def _signature(files: dict[str, bytes], public: str | None) -> Signature:
    try:
        signature = Signature.model_validate_json(files[SIGNATURE])
    except ValidationError:
        raise EvidenceRefused(f"{SIGNATURE}: not a mendflow signature record") from None
    if public is not None and signature.public_key != public:
        raise EvidenceRefused(
            f"{SIGNATURE}: signed by key {signature.key_id}, not by the key given ({fingerprint(public)})"
        )
    if signature.algorithm != "Ed25519" or signature.key_id != fingerprint(signature.public_key):
        raise EvidenceRefused(f"{SIGNATURE}: key id {signature.key_id} does not belong to its public key")
    try:
        public_key(signature.public_key).verify(b64decode(signature.signature), files[MANIFEST])
    except (ValueError, InvalidSignature):
        raise EvidenceRefused(
            f"{MANIFEST}: the signature of key {signature.key_id} does not verify (edited after signing)"
        ) from None
    return signature


def _manifest(body: bytes) -> Manifest:
    try:
        manifest = Manifest.model_validate_json(body)
    except ValidationError as err:
        raise EvidenceRefused(f"{MANIFEST}: not a mendflow manifest ({err.errors()[0]['msg']})") from None
    if manifest.format != FORMAT:
        raise EvidenceRefused(f"{MANIFEST}: format {manifest.format!r}, this mendflow reads {FORMAT!r}")
    return manifest


def _digests(files: dict[str, bytes], manifest: Manifest) -> None:
    for name, digest in sorted(manifest.files.items()):
        if name not in files:
            raise EvidenceRefused(f"{name}: listed in the manifest but missing from the bundle")
        if sha256(files[name]) != digest:
            raise EvidenceRefused(f"{name}: sha256 {sha256(files[name])} differs from the manifest's {digest}")
    for name in sorted(files):
        if name not in manifest.files and name not in (MANIFEST, SIGNATURE):
            raise EvidenceRefused(f"{name}: in the bundle but not in the signed manifest")
    for name in (AUDIT, CHANGES, DECISIONS, FINDINGS, COMPLIANCE):
        if name not in manifest.files:
            raise EvidenceRefused(f"{MANIFEST}: does not list {name}")


def _chain(audit: bytes, manifest: Manifest) -> None:
    segment = manifest.audit
    lines = audit.split(b"\n")
    if lines[-1] != b"":
        raise EvidenceRefused(f"{AUDIT}:{len(lines)}: the last record does not end with a newline")
    lines.pop()
    expected = segment.anchor
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            raise EvidenceRefused(f"{AUDIT}:{number}: not a JSON record") from None
        if not isinstance(record, dict) or record.get("prev") != expected:
            what = "the manifest's anchor" if number == 1 else "the record before it"
            raise EvidenceRefused(f"{AUDIT}:{number}: `prev` does not match {what} (a record was removed or edited)")
        expected = sha256(line)
    if len(lines) != segment.count:
        raise EvidenceRefused(f"{AUDIT}: {len(lines)} records, the manifest says {segment.count}")
    if lines and expected != segment.head:
        raise EvidenceRefused(f"{AUDIT}:{len(lines)}: the last record is not the manifest's head (records dropped)")


def _snapshots(files: dict[str, bytes], manifest: Manifest, changes: list[dict[str, Any]]) -> None:
    for name in sorted(files):
        if name.startswith(SNAPSHOTS) and name != snapshot_path("sha256:" + sha256(files[name])):
            raise EvidenceRefused(f"{name}: content does not match its digest (a snapshot was swapped or edited)")
    for digest in snapshot_digests(changes):
        if snapshot_path(digest) not in files and digest not in manifest.missing_snapshots:
            raise EvidenceRefused(f"{snapshot_path(digest)}: named by {CHANGES} but not in the bundle")


def _derived(files: dict[str, bytes], manifest: Manifest, entries: list[dict[str, Any]]) -> None:
    wanted = DECISION_KINDS | {CHANGE_KIND}  # only these records stay parsed in memory
    parsed = (json.loads(line) for line in files[AUDIT].splitlines())
    records = [record for record in parsed if record.get("kind") in wanted]
    _same(files, DECISIONS, jsonl(decisions_of(records)), f"the decisions of {AUDIT}")
    _same(files, CHANGES, jsonl(changes_of(records)), f"the changes of {AUDIT}")
    try:
        framework = None if manifest.framework == "all" else Framework(manifest.framework)
        mapping = compliance_map(framework, entries)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise EvidenceRefused(f"{FINDINGS}: entries the compliance mapping cannot be computed from") from None
    _same(files, COMPLIANCE, canonical(mapping.model_dump(mode="json")), f"the mapping of {FINDINGS}")


def _same(files: dict[str, bytes], name: str, expected: bytes, what: str) -> None:
    if files[name] != expected:
        got = files[name].splitlines()
        want = expected.splitlines()
        pairs = enumerate(zip(got, want, strict=False), start=1)
        line = next((i for i, (a, b) in pairs if a != b), min(len(got), len(want)) + 1)
        raise EvidenceRefused(f"{name}:{line}: differs from {what}, recomputed")


__all__ = ["Verified", "verify_bundle"]
