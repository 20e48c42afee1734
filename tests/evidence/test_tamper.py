"""Tampered bundles are refused, and the refusal names the first file (and line) that does not match."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mendflow.errors import EvidenceRefused, InputError
from mendflow.evidence.bundle import read_bundle, write_bundle
from mendflow.evidence.compliance import Framework
from mendflow.evidence.export import export_evidence
from mendflow.evidence.keys import fingerprint, public_text
from mendflow.evidence.verify import verify_bundle
from mendflow.store import Database
from tests.evidence.scenario import SINCE, UNTIL, populate, resign

KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, bytes]]:
    """One bundle's files, exported once for the module."""
    db = Database.open(f"sqlite:///{tmp_path_factory.mktemp('db') / 'mendflow.sqlite3'}")
    populate(db)
    yield export_evidence(db, since=SINCE, until=UNTIL, framework=Framework.soc2, key=KEY).files
    db.dispose()


@pytest.fixture
def bundle(exported: dict[str, bytes], tmp_path: Path) -> Path:
    """A fresh directory copy of the bundle to tamper with."""
    write_bundle(tmp_path / "bundle", exported)
    return tmp_path / "bundle"


def refusal(bundle: Path, public: str | None = None) -> str:
    with pytest.raises(EvidenceRefused) as caught:
        verify_bundle(read_bundle(bundle), public=public)
    return str(caught.value)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def snapshot_files(bundle: Path) -> list[Path]:
    return sorted((bundle / "snapshots" / "sha256").iterdir())


def test_untouched_bundle_verifies_with_the_signers_key(bundle: Path) -> None:
    """The baseline the tamper tests depart from."""
    assert verify_bundle(read_bundle(bundle), public=public_text(KEY)).key_id == fingerprint(public_text(KEY))


def test_edited_finding_is_named_by_its_digest(bundle: Path) -> None:
    """Changing one finding's status breaks findings.jsonl's digest in the signed manifest."""
    path = bundle / "findings.jsonl"
    path.write_bytes(
        path.read_bytes().replace(b'"resolution":null,"status":"open"', b'"resolution":null,"status":"resolved"', 1)
    )
    assert re.match(r"findings\.jsonl: sha256 [0-9a-f]{64} differs from the manifest's", refusal(bundle))


def test_edited_finding_resigned_by_the_key_holder_fails_the_compliance_recomputation(bundle: Path) -> None:
    """Even re-signed, an edited finding no longer yields the bundle's compliance mapping."""
    path = bundle / "findings.jsonl"
    path.write_bytes(
        path.read_bytes().replace(b'"resolution":null,"status":"open"', b'"resolution":null,"status":"resolved"', 1)
    )
    resign(bundle, KEY)
    assert refusal(bundle) == "compliance.json:1: differs from the mapping of findings.jsonl, recomputed"


def test_dropped_audit_event_is_named_by_its_digest(bundle: Path) -> None:
    """Removing a record from audit.jsonl breaks its digest in the manifest."""
    path = bundle / "audit.jsonl"
    records = lines(path)
    path.write_bytes(b"".join(records[:1] + records[2:]))
    assert refusal(bundle).startswith("audit.jsonl: sha256 ")


def test_dropped_audit_event_resigned_breaks_the_chain_at_the_next_record(bundle: Path) -> None:
    """Re-signed, a removed middle record shows as the next record's `prev` not matching the one before it."""
    path = bundle / "audit.jsonl"
    records = lines(path)
    path.write_bytes(b"".join(records[:1] + records[2:]))
    resign(bundle, KEY)
    assert refusal(bundle).startswith("audit.jsonl:2: `prev` does not match the record before it")


def test_dropped_last_audit_event_resigned_misses_the_manifests_head(bundle: Path) -> None:
    """Dropping the newest record (and fixing the count) still misses the head the manifest was signed with."""
    path = bundle / "audit.jsonl"
    path.write_bytes(b"".join(lines(path)[:-1]))
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    resign(bundle, KEY, audit=manifest["audit"] | {"count": manifest["audit"]["count"] - 1})
    assert refusal(bundle).startswith("audit.jsonl:4: the last record is not the manifest's head")


def test_swapped_snapshot_is_named_by_its_digest(bundle: Path) -> None:
    """Swapping the before and after snapshots' contents breaks both files' digests; the first is named."""
    first, second = snapshot_files(bundle)
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    assert refusal(bundle).startswith(f"snapshots/sha256/{first.name}: sha256 ")


def test_swapped_snapshot_resigned_does_not_match_its_own_name(bundle: Path) -> None:
    """Re-signed, a swapped snapshot still is not the content its name (its digest) says."""
    first, second = snapshot_files(bundle)
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    resign(bundle, KEY)
    assert refusal(bundle) == (
        f"snapshots/sha256/{first.name}: content does not match its digest (a snapshot was swapped or edited)"
    )


def test_edited_manifest_fails_the_signature(bundle: Path) -> None:
    """Widening the window in manifest.json invalidates the signature over it."""
    path = bundle / "manifest.json"
    path.write_bytes(path.read_bytes().replace(b'"since":"2026-11-19', b'"since":"2026-10-19'))
    assert refusal(bundle) == (
        f"manifest.json: the signature of key {fingerprint(public_text(KEY))} does not verify (edited after signing)"
    )


def test_wrong_public_key_is_refused_naming_both_keys(bundle: Path) -> None:
    """A bundle signed by another key than the auditor was given is refused, even though it is intact."""
    other = public_text(Ed25519PrivateKey.generate())
    assert refusal(bundle, public=other) == (
        f"manifest.sig: signed by key {fingerprint(public_text(KEY))}, not by the key given ({fingerprint(other)})"
    )


def test_bundle_resigned_with_another_key_is_refused_by_the_auditors_key(bundle: Path) -> None:
    """An edit re-signed with an attacker's key fails against the key the auditor holds."""
    attacker = Ed25519PrivateKey.generate()
    path = bundle / "findings.jsonl"
    path.write_bytes(
        path.read_bytes().replace(b'"resolution":null,"status":"open"', b'"resolution":null,"status":"resolved"', 1)
    )
    resign(bundle, attacker)
    assert refusal(bundle, public=public_text(KEY)) == (
        f"manifest.sig: signed by key {fingerprint(public_text(attacker))}, "
        f"not by the key given ({fingerprint(public_text(KEY))})"
    )


def test_file_added_to_the_bundle_is_refused(bundle: Path) -> None:
    """Only what the signed manifest lists may be in the bundle."""
    (bundle / "notes.txt").write_text("trust me")
    assert refusal(bundle) == "notes.txt: in the bundle but not in the signed manifest"


def test_a_path_that_is_no_bundle_is_bad_input(tmp_path: Path) -> None:
    """A missing path or a directory without a manifest is bad input (exit 2), not a refusal."""
    with pytest.raises(InputError, match="no such evidence bundle"):
        read_bundle(tmp_path / "absent")
    with pytest.raises(InputError, match=r"no manifest\.json"):
        read_bundle(tmp_path)
