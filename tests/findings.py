"""A finding for tests of the ledger and the findings commands: an insecure webhook of one acme repository."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mendflow.models import Finding, ResourceRef, Severity, fingerprint

T0 = datetime(2026, 11, 20, tzinfo=UTC)
HOOK_RULE = "github.repo_hook.insecure_ssl"


def hook_finding(
    resource: str, *, rule: str = HOOK_RULE, org: str = "acme", severity: Severity = Severity.high, **changes: Any
) -> Finding:
    """A finding on the webhook `resource` observed at T0; `changes` sets any other field (risk, compliance)."""
    return Finding(
        fingerprint=fingerprint(org, rule, resource),
        tenant=org,
        provider="github",
        rule=rule,
        title="t",
        severity=severity,
        resource=ResourceRef(type="github.repo_hook", id=resource),
        evidence={},
        observed_at=T0,
        **changes,
    )
