"""A database with a month of evidence in it, canary secrets planted, and an insider's re-signing of a bundle."""

from __future__ import annotations

import base64
import urllib.parse
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mendflow.audit import AuditEvent, AuditLog
from mendflow.auth.proof import b64encode
from mendflow.evidence.bundle import MANIFEST, SIGNATURE, Manifest, Signature, canonical, read_bundle, sha256
from mendflow.evidence.changes import record_change
from mendflow.evidence.keys import fingerprint, public_text
from mendflow.evidence.snapshots import DatabaseSnapshotStore
from mendflow.findings.store import FindingsLedger
from mendflow.models import Change, Outcome, ResourceRef
from mendflow.redaction import register_secret
from mendflow.store import Database
from tests.findings import T0, hook_finding

CANARY = "canary-3f9d1c-evidence-secret"
"""Registered as a secret (as `SecretRef.resolve` does): it may sit in the database, never in a bundle."""
TOKEN_CANARY = "ghp_" + "C4n4ryT0kenInEvidence00000000000000"
"""A GitHub token shape nobody registered: masked by its pattern."""
SINCE = T0 - timedelta(days=1)
UNTIL = T0 + timedelta(days=1)
TENANT = "github:acme"


def canary_forms() -> list[bytes]:
    """Each canary as written, base64 and URL-encoded."""
    forms = []
    for value in (CANARY, TOKEN_CANARY):
        forms += [value, base64.b64encode(value.encode()).decode(), urllib.parse.quote(value, safe="")]
    return [f.encode() for f in forms]


def populate(db: Database) -> None:
    """Two findings seen in the window (one with canaries in its evidence) and one long gone; audit records before,
    inside and after the window: a decision, a change with before/after snapshots, a refusal, a Slack decision, a
    suppression."""
    register_secret(CANARY)
    ledger = FindingsLedger(db)
    hook = "/repos/acme/api/hooks/11"
    findings = [
        hook_finding(hook, compliance=("SOC2:CC6.7", "CIS-v8:3.10")).model_copy(
            update={
                "evidence": {
                    "config.insecure_ssl": "1",
                    "config.url": f"https://x/?t={TOKEN_CANARY}",
                    "password": CANARY,
                }
            }
        ),
        hook_finding("/repos/acme/web/hooks/21", compliance=("SOC2:CC6.7", "ISO27001:A.8.24")),
    ]
    ledger.reconcile(TENANT, findings, rules=[findings[0].rule], seen_at=T0)
    old = hook_finding("/repos/acme/old/hooks/1", compliance=("SOC2:CC6.7",))
    ledger.reconcile("github:other", [old], rules=[old.rule], seen_at=T0 - timedelta(days=30))

    clock = iter(T0 + timedelta(minutes=m) for m in (-3000, 10, 20, 30, 40, 50, 3000))
    audit = AuditLog(db, clock=lambda: next(clock))
    audit.append(AuditEvent(kind="token.created", outcome="accepted", actor="host-admin", channel="cli"))
    campaign = "remediate/github:acme/hook/abc"
    audit.append(
        AuditEvent(
            kind="decision",
            outcome="accepted",
            actor="alice",
            channel="cli",
            campaign_id=campaign,
            details={"verdict": "approve", "reason_given": f"ok {CANARY}"},
        )
    )
    change = Change(
        resource=ResourceRef(type="github.repo_hook", id=hook),
        action="github.hook.secure_ssl",
        before={"config": {"insecure_ssl": "1", "secret": CANARY}},
        after={"config": {"insecure_ssl": "0"}},
    )
    record_change(
        audit,
        DatabaseSnapshotStore(db),
        campaign_id=campaign,
        tenant_key=TENANT,
        fingerprint=findings[0].fingerprint,
        change=change,
        result=Outcome.verified,
    )
    audit.append(AuditEvent(kind="workflow.refusal", outcome="refused", reason="not an approver", actor="mallory"))
    audit.append(AuditEvent(kind="slack.decision", outcome="accepted", actor="bob", channel="slack"))
    audit.append(AuditEvent(kind="suppression", outcome="accepted", actor="carol", reason="accepted risk: RISK-7"))
    audit.append(AuditEvent(kind="token.revoked", outcome="accepted", actor="host-admin", channel="cli"))


def resign(bundle: Path, key: Ed25519PrivateKey, **manifest_changes: object) -> None:
    """What an insider holding the key can do after editing a directory bundle: list the files' new digests and
    sign again (so only the deeper checks can catch the edit)."""
    files = read_bundle(bundle)
    manifest = Manifest.model_validate_json(files[MANIFEST])
    digests = {name: sha256(data) for name, data in files.items() if name not in (MANIFEST, SIGNATURE)}
    manifest = Manifest.model_validate(
        manifest.model_dump(mode="json") | {"files": dict(sorted(digests.items()))} | manifest_changes
    )
    body = canonical(manifest.model_dump(mode="json")) + b"\n"
    public = public_text(key)
    signature = Signature(key_id=fingerprint(public), public_key=public, signature=b64encode(key.sign(body)))
    (bundle / MANIFEST).write_bytes(body)
    (bundle / SIGNATURE).write_bytes(canonical(signature.model_dump(mode="json")) + b"\n")
