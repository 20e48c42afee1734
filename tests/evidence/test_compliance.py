"""The compliance mapping: findings grouped by control of one framework (or all), deterministic and complete."""

from __future__ import annotations

from typing import Any

from mendflow.evidence.compliance import Framework, compliance_map


def entry(
    fp: str, rule: str, refs: list[str], *, status: str = "open", resolution: str | None = None
) -> dict[str, Any]:
    return {
        "tenant": "github:acme",
        "fingerprint": fp,
        "status": status,
        "resolution": resolution,
        "finding": {"rule": rule, "compliance": refs},
    }


FINDINGS = [
    entry("f2", "hook.ssl", ["SOC2:CC6.7", "CIS-v8:3.10"], status="resolved", resolution="fixed by mendflow"),
    entry("f1", "hook.ssl", ["SOC2:CC6.7", "NIST-CSF:PR.DS-02"]),
    entry(
        "f3", "org.2fa", ["SOC2:CC6.1", "ISO27001:A.8.5", "SOC2:CC6.1"], status="resolved", resolution="fixed elsewhere"
    ),
]


def test_one_framework_keeps_only_its_controls_with_counts():
    """SOC2 keeps CC6.1 and CC6.7, counts statuses and fixes by mendflow, and lists each finding once."""
    mapping = compliance_map(Framework.soc2, FINDINGS)
    assert mapping.framework == "SOC2"
    assert [c.reference for c in mapping.controls] == ["SOC2:CC6.1", "SOC2:CC6.7"]
    cc61, cc67 = mapping.controls
    assert cc61.findings == ["github:acme/f3"]  # listed twice in the playbook, counted once
    assert cc61.by_status == {"resolved": 1}
    assert cc61.fixed_by_mendflow == 0
    assert cc67.rules == ["hook.ssl"]
    assert cc67.findings == ["github:acme/f1", "github:acme/f2"]
    assert cc67.by_status == {"open": 1, "resolved": 1}
    assert cc67.fixed_by_mendflow == 1


def test_cis_matches_its_versioned_prefix():
    """`--framework CIS` takes `CIS-v8:…` references (playbooks carry the benchmark's version)."""
    assert [c.reference for c in compliance_map(Framework.cis, FINDINGS).controls] == ["CIS-v8:3.10"]


def test_no_framework_maps_every_reference_in_order():
    """Without a framework every control appears, sorted, so two exports of the same findings are identical."""
    mapping = compliance_map(None, FINDINGS)
    assert mapping.framework == "all"
    assert [c.reference for c in mapping.controls] == [
        "CIS-v8:3.10",
        "ISO27001:A.8.5",
        "NIST-CSF:PR.DS-02",
        "SOC2:CC6.1",
        "SOC2:CC6.7",
    ]
    assert compliance_map(None, list(reversed(FINDINGS))) == mapping
