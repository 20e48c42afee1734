"""Evidence export → verify round trip on SQLite and PostgreSQL: what a bundle holds, and that it leaks nothing."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mendflow.audit import GENESIS
from mendflow.auth.signing import private_key_text
from mendflow.evidence.bundle import read_bundle, snapshot_path, write_bundle
from mendflow.evidence.compliance import Framework
from mendflow.evidence.export import export_evidence
from mendflow.evidence.keys import public_text
from mendflow.evidence.verify import verify_bundle
from mendflow.store import Database
from tests.evidence.scenario import SINCE, UNTIL, canary_forms, populate


def test_bundle_round_trips_with_the_window_and_nothing_secret(db: Database, tmp_path: Path) -> None:
    """The window's findings, decisions, change (with both snapshots) and chain segment verify with the signer's
    public key; records outside the window are left out; no canary in any form is in any file."""
    populate(db)
    key = Ed25519PrivateKey.generate()
    exported = export_evidence(db, since=SINCE, until=UNTIL, framework=Framework.soc2, key=key)
    write_bundle(tmp_path / "bundle", exported.files)
    files = read_bundle(tmp_path / "bundle")

    verified = verify_bundle(files, public=public_text(key))

    manifest = verified.manifest
    assert manifest.counts == {"audit_events": 5, "changes": 1, "decisions": 3, "findings": 2, "snapshots": 2}
    assert manifest.audit.anchor != GENESIS and manifest.audit.first_seq == 2 and manifest.audit.last_seq == 6
    kinds = [json.loads(line)["kind"] for line in files["audit.jsonl"].splitlines()]
    assert kinds == ["decision", "campaign.change", "workflow.refusal", "slack.decision", "suppression"]
    decided = [json.loads(line)["kind"] for line in files["decisions.jsonl"].splitlines()]
    assert decided == ["decision", "slack.decision", "suppression"]
    (change,) = [json.loads(line) for line in files["changes.jsonl"].splitlines()]
    assert change["result"] == "verified" and change["resource"] == "/repos/acme/api/hooks/11"
    before = json.loads(files[snapshot_path(change["before"])])
    after = json.loads(files[snapshot_path(change["after"])])
    assert before == {"config": {"insecure_ssl": "1", "secret": "[REDACTED]"}}
    assert after == {"config": {"insecure_ssl": "0"}}
    tenants = {json.loads(line)["tenant"] for line in files["findings.jsonl"].splitlines()}
    assert tenants == {"github:acme"}  # github:other's finding was last seen a month before
    compliance = json.loads(files["compliance.json"])
    assert compliance["framework"] == "SOC2"
    assert [(c["reference"], len(c["findings"])) for c in compliance["controls"]] == [("SOC2:CC6.7", 2)]
    everything = b"".join(files.values())
    leaks = [form for form in [*canary_forms(), private_key_text(key).encode()] if form in everything]
    assert leaks == []


def test_same_window_and_key_give_the_same_tar_gz_bytes(db: Database, tmp_path: Path) -> None:
    """A .tar.gz bundle is deterministic (sorted entries, no times or owners) and verifies as the directory does."""
    populate(db)
    key = Ed25519PrivateKey.generate()
    for name in ("a.tar.gz", "b.tar.gz"):
        write_bundle(tmp_path / name, export_evidence(db, since=SINCE, until=UNTIL, framework=None, key=key).files)
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    verified = verify_bundle(read_bundle(tmp_path / "a.tar.gz"))
    assert verified.manifest.framework == "all"
