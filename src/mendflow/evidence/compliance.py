"""Compliance mapping of an evidence bundle: which controls of a framework its findings and changes speak to.

Playbooks carry references like `SOC2:CC6.7` or `CIS-v8:3.10`; every finding inherits its playbook's. The mapping
groups a bundle's findings by control of one framework (or of every framework when none is chosen), so an auditor
reads "CC6.1: 12 findings, 9 resolved, 7 fixed by mendflow" and can follow each fingerprint into `findings.jsonl`.

It is a pure function of the exported findings, so the verifier recomputes it and refuses a bundle whose mapping
was edited.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Framework(StrEnum):
    """Frameworks `--framework` accepts; each matches the prefixes playbooks use for it."""

    soc2 = "SOC2"
    iso27001 = "ISO27001"
    nist_csf = "NIST-CSF"
    cis = "CIS"

    def owns(self, prefix: str) -> bool:
        """Whether a reference's prefix (`CIS-v8`, `SOC2`) names this framework (CIS carries its version)."""
        if self is Framework.cis:
            return prefix == "CIS" or prefix.startswith("CIS-")
        return prefix == self.value


class Control(BaseModel):
    """One control and the findings of the bundle that bear on it."""

    model_config = ConfigDict(extra="forbid")

    reference: str
    """As the playbooks write it, e.g. `SOC2:CC6.7`."""
    rules: list[str] = Field(default_factory=list)
    """Playbook ids whose findings map here."""
    findings: list[str] = Field(default_factory=list)
    """`tenant/fingerprint` of each finding (see `findings.jsonl`)."""
    by_status: dict[str, int] = Field(default_factory=dict)
    """How many of those findings are in each ledger status now."""
    fixed_by_mendflow: int = 0
    """How many of those findings resolved because a mendflow campaign verified its own change."""


class ComplianceMap(BaseModel):
    """The mapping file of a bundle."""

    model_config = ConfigDict(extra="forbid")

    framework: str
    """The framework asked for, or `all`."""
    controls: list[Control]


def compliance_map(framework: Framework | None, findings: Iterable[dict[str, Any]]) -> ComplianceMap:
    """Controls (sorted by reference) → the exported findings that carry them. `findings` are `findings.jsonl`
    entries: `tenant`, `fingerprint`, `status`, `resolution` and the finding with its `compliance` list."""
    controls: dict[str, Control] = {}
    for entry in findings:
        finding = entry.get("finding") or {}
        for reference in sorted(set(finding.get("compliance") or ())):  # a reference listed twice counts once
            prefix = str(reference).partition(":")[0]
            if framework is not None and not framework.owns(prefix):
                continue
            control = controls.setdefault(reference, Control(reference=reference))
            rule = str(finding.get("rule", ""))
            if rule not in control.rules:
                control.rules.append(rule)
            control.findings.append(f"{entry['tenant']}/{entry['fingerprint']}")
            status = str(entry.get("status", ""))
            control.by_status[status] = control.by_status.get(status, 0) + 1
            if entry.get("resolution") == "fixed by mendflow":
                control.fixed_by_mendflow += 1
    for control in controls.values():
        control.rules.sort()
        control.findings.sort()
        control.by_status = dict(sorted(control.by_status.items()))
    return ComplianceMap(
        framework=framework.value if framework else "all", controls=[controls[k] for k in sorted(controls)]
    )


__all__ = ["ComplianceMap", "Control", "Framework", "compliance_map"]
