"""Risk of a finding in its tenant: severity × asset criticality × exposure, on a 0–100 scale.

    score = min(100, round(10 × severity × criticality × exposure))

- severity: info 1, low 2, medium 3, high 4, critical 5 (the playbook's `detect.severity`);
- criticality of the asset: low ×0.5, medium ×1, high ×1.25, critical ×1.5. It comes from, first to last:
  the config's per-resource entry (an id or a glob such as `/repos/acme/payments*`; the longest matching
  pattern wins), the same for the resource's repository, the repository's custom property `criticality`
  (GitHub repository custom properties), and the config's tenant-wide `default` (medium);
- exposure: the product of what applies, at most ×3 — public repository ×2, internal repository ×1.25, outside
  collaborator ×1.5, admin or owner rights ×1.5, organization-wide setting ×1.5.

So a high finding on an ordinary private asset scores 40; on a public repository 80; on a public, critical one
100 (capped). The factors are kept with the score, so a person reads why: `high severity (×4) · public repository
(exposure ×2) · critical asset (×1.5)`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mendflow.errors import InputError
from mendflow.models import Finding, Resource, RiskFactor, RiskScore, Severity
from mendflow.userfiles import load_yaml_file

__all__ = [
    "CRITICALITY_WEIGHT",
    "EXPOSURE_CAP",
    "SEVERITY_WEIGHT",
    "Criticality",
    "CriticalityConfig",
    "RiskFactor",
    "RiskScore",
    "criticality_of",
    "exposure_of",
    "load_criticality",
    "risk_score",
    "score_findings",
    "scoring_facts",
    "scoring_ids",
    "summarize_risk",
]


class Criticality(StrEnum):
    """How much an asset matters to the business."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


SEVERITY_WEIGHT: dict[Severity, int] = {
    Severity.info: 1,
    Severity.low: 2,
    Severity.medium: 3,
    Severity.high: 4,
    Severity.critical: 5,
}
CRITICALITY_WEIGHT: dict[Criticality, float] = {
    Criticality.low: 0.5,
    Criticality.medium: 1.0,
    Criticality.high: 1.25,
    Criticality.critical: 1.5,
}
EXPOSURE_CAP = 3.0
"""Exposure factors multiply, up to this."""
SCALE = 10
"""Points per unit of severity × criticality × exposure."""
CUSTOM_PROPERTY = "criticality"
"""The GitHub repository custom property read as the asset's criticality."""


class CriticalityConfig(BaseModel):
    """Asset criticality: a tenant-wide default and per-resource overrides (`--criticality FILE`, YAML)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    default: Criticality = Criticality.medium
    """The criticality of every asset nothing else names."""
    resources: dict[str, Criticality] = Field(default_factory=dict)
    """Resource id or glob (`/repos/acme/payments*`) → criticality; the longest matching pattern wins."""


def load_criticality(path: Path) -> CriticalityConfig:
    """Read a criticality config (YAML); problems are InputErrors naming the file and key (size-capped, no value
    quoted: see `userfiles`)."""
    raw = load_yaml_file(path, what="criticality config")
    try:
        return CriticalityConfig.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5])
        raise InputError(f"{path}: invalid criticality config: {problems}") from None


def _repo_id(resource_id: str) -> str | None:
    """`/repos/acme/api/hooks/11` → `/repos/acme/api` (None outside repositories)."""
    parts = resource_id.strip("/").split("/")
    return "/" + "/".join(parts[:3]) if len(parts) >= 3 and parts[0] == "repos" else None


def _configured(resource_id: str, config: CriticalityConfig) -> Criticality | None:
    if resource_id in config.resources:
        return config.resources[resource_id]
    matching = [pattern for pattern in config.resources if fnmatch.fnmatchcase(resource_id, pattern)]
    return config.resources[max(matching, key=len)] if matching else None


def _custom_property(repo: Resource | None) -> Criticality | None:
    properties = (repo.data.get("custom_properties") if repo is not None else None) or {}
    value = properties.get(CUSTOM_PROPERTY) if isinstance(properties, dict) else None
    try:
        return Criticality(str(value).lower()) if value is not None else None
    except ValueError:
        return None


def criticality_of(
    resource_id: str, resources: Mapping[str, Resource], config: CriticalityConfig
) -> tuple[Criticality, str]:
    """The asset's criticality and where it came from (`config`, `repository`, `custom property`, `default`)."""
    found = _configured(resource_id, config)
    if found is not None:
        return found, "config"
    repo_id = _repo_id(resource_id)
    if repo_id is not None and repo_id != resource_id:
        found = _configured(repo_id, config)
        if found is not None:
            return found, "repository"
    if repo_id is not None:
        found = _custom_property(resources.get(repo_id))
        if found is not None:
            return found, "custom property"
    return config.default, "default"


def _visibility(data: Mapping[str, Any]) -> str | None:
    visibility = data.get("visibility")
    if isinstance(visibility, str):
        return visibility
    private = data.get("private")
    return None if private is None else ("private" if private else "public")


def exposure_of(resource: Resource) -> list[RiskFactor]:
    """What makes a problem on this resource reachable by more people (GitHub resource types)."""
    factors: list[RiskFactor] = []
    repo = resource.data if resource.type == "github.repo" else resource.related.get("repo")
    visibility = _visibility(repo) if isinstance(repo, dict) else None
    if visibility == "public":
        factors.append(RiskFactor(kind="exposure", label="public repository", weight=2.0))
    elif visibility == "internal":
        factors.append(RiskFactor(kind="exposure", label="internal repository", weight=1.25))
    if resource.type == "github.outside_collaborator" or resource.related.get("outside") is True:
        factors.append(RiskFactor(kind="exposure", label="outside collaborator", weight=1.5))
    membership = resource.related.get("membership")
    permissions = resource.data.get("permissions")
    if isinstance(membership, dict) and membership.get("role") == "admin":
        factors.append(RiskFactor(kind="exposure", label="organization owner", weight=1.5))
    elif resource.type == "github.collaborator" and isinstance(permissions, dict) and permissions.get("admin"):
        factors.append(RiskFactor(kind="exposure", label="admin rights", weight=1.5))
    if resource.type in ("github.org", "github.org_hook"):
        factors.append(RiskFactor(kind="exposure", label="organization-wide", weight=1.5))
    return factors


def risk_score(severity: Severity, criticality: Criticality, exposure: Sequence[RiskFactor] = ()) -> RiskScore:
    """Combine the three parts (see the module docstring for the formula)."""
    severity_factor = RiskFactor(kind="severity", label=f"{severity.value} severity", weight=SEVERITY_WEIGHT[severity])
    criticality_factor = RiskFactor(
        kind="criticality", label=f"{criticality.value} asset", weight=CRITICALITY_WEIGHT[criticality]
    )
    exposure_weight = 1.0
    for factor in exposure:
        exposure_weight *= factor.weight
    exposure_weight = min(exposure_weight, EXPOSURE_CAP)
    raw = SCALE * severity_factor.weight * criticality_factor.weight * exposure_weight
    factors = (severity_factor, *exposure, criticality_factor)
    return RiskScore(score=min(100, round(raw)), factors=factors, explanation=_explain(factors))


def _weight(value: float) -> str:
    return f"{value:g}"


def _explain(factors: Iterable[RiskFactor]) -> str:
    parts: list[str] = []
    for factor in factors:
        if factor.kind == "exposure":
            parts.append(f"{factor.label} (exposure ×{_weight(factor.weight)})")
        elif factor.kind == "criticality" and factor.weight == 1.0:
            continue  # an ordinary asset changes nothing; saying so is noise
        else:
            parts.append(f"{factor.label} (×{_weight(factor.weight)})")
    return " · ".join(parts)


def scoring_ids(findings: Iterable[Finding]) -> set[str]:
    """The resources `score_findings` reads for these findings: each one's own and its repository's, so a caller
    streaming a large inventory keeps only those in memory."""
    ids: set[str] = set()
    for finding in findings:
        ids.add(finding.resource.id)
        repo = _repo_id(finding.resource.id)
        if repo is not None:
            ids.add(repo)
    return ids


SCORED_DATA = ("visibility", "private", "permissions", "custom_properties")
"""The vendor fields `exposure_of` and `criticality_of` read (keep in step with them: `scoring_facts` keeps only
these)."""
SCORED_RELATED = ("repo", "outside", "membership")
"""The related facts `exposure_of` reads."""


def scoring_facts(resource: Resource) -> Resource:
    """The part of `resource` that scoring reads: a scan keeps this for each resource its findings are about, not
    the whole vendor object (a GitHub repository is ~100 fields; 10,000 of them held ~290 MB)."""
    return Resource(
        type=resource.type,
        id=resource.id,
        data={key: resource.data[key] for key in SCORED_DATA if key in resource.data},
        related={key: resource.related[key] for key in SCORED_RELATED if key in resource.related},
    )


def score_findings(
    findings: Iterable[Finding], resources: Iterable[Resource], criticality: CriticalityConfig | None = None
) -> list[Finding]:
    """The findings with `risk` filled in, from the resources they are about (same order).

    Findings with the same severity, criticality and exposure share one (immutable) RiskScore: a scan's thousands
    of findings have a handful of distinct scores, not one set of factors and explanation each."""
    config = criticality or CriticalityConfig()
    by_id = {resource.id: resource for resource in resources}
    scores: dict[tuple[Severity, Criticality, tuple[RiskFactor, ...]], RiskScore] = {}
    scored: list[Finding] = []
    for finding in findings:
        resource = by_id.get(finding.resource.id)
        tier, _ = criticality_of(finding.resource.id, by_id, config)
        key = (finding.severity, tier, tuple(exposure_of(resource)) if resource is not None else ())
        risk = scores.get(key)
        if risk is None:
            risk = scores[key] = risk_score(*key)
        scored.append(finding.model_copy(update={"risk": risk}))
    return scored


def summarize_risk(findings: Sequence[Finding], *, total: int | None = None) -> str:
    """One line for a campaign's card or ticket: its riskiest finding's score and why, e.g.
    `80/100: high severity (×4) · public repository (exposure ×2) (highest of 2 findings)`; "" when none is
    scored. `total`: how many findings the campaign has when `findings` is only a preview of them."""
    scored = [f.risk for f in findings if f.risk is not None]
    if not scored:
        return ""
    top = max(scored, key=lambda risk: risk.score)
    line = f"{top.score}/100: {top.explanation}" if top.explanation else f"{top.score}/100"
    if total is not None and total > len(findings):
        return f"{line} (highest of the first {len(findings)} of {total} findings)"
    return f"{line} (highest of {len(scored)} findings)" if len(scored) > 1 else line
