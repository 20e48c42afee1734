"""Risk scores: severity × asset criticality × exposure, explained, and attached to offline scan findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from mendflow.data import demo_tenant_path
from mendflow.errors import InputError
from mendflow.findings.risk import (
    Criticality,
    CriticalityConfig,
    criticality_of,
    exposure_of,
    load_criticality,
    risk_score,
    score_findings,
    scoring_facts,
)
from mendflow.models import Resource, RiskFactor, Severity
from mendflow.offline import scan_tenant_file
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks

PUBLIC = RiskFactor(kind="exposure", label="public repository", weight=2.0)


def repo(name: str, **data: object) -> Resource:
    return Resource(type="github.repo", id=f"/repos/acme/{name}", data={"name": name, **data})


def test_score_multiplies_severity_criticality_and_exposure_on_a_hundred_point_scale() -> None:
    """10 × severity weight × criticality × exposure: high on a plain asset is 40, on a public repo 80."""
    assert risk_score(Severity.high, Criticality.medium).score == 40
    assert risk_score(Severity.high, Criticality.medium, [PUBLIC]).score == 80
    assert risk_score(Severity.medium, Criticality.high).score == round(10 * 3 * 1.25)
    assert risk_score(Severity.info, Criticality.low).score == 5


def test_score_is_capped_at_one_hundred_and_exposure_at_three() -> None:
    """A critical finding on a public, critical asset is 100; stacked exposure never exceeds ×3."""
    assert risk_score(Severity.critical, Criticality.critical, [PUBLIC]).score == 100
    admin = RiskFactor(kind="exposure", label="admin rights", weight=1.5)
    outside = RiskFactor(kind="exposure", label="outside collaborator", weight=1.5)
    assert risk_score(Severity.low, Criticality.medium, [PUBLIC, admin, outside]).score == 10 * 2 * 3


def test_explanation_names_each_part_that_changed_the_score() -> None:
    """The parts read like the brief's example; an ordinary (medium) asset is not mentioned."""
    score = risk_score(Severity.high, Criticality.critical, [PUBLIC])
    assert score.explanation == "high severity (×4) · public repository (exposure ×2) · critical asset (×1.5)"
    assert [f.kind for f in score.factors] == ["severity", "exposure", "criticality"]
    assert risk_score(Severity.low, Criticality.medium).explanation == "low severity (×2)"


EXPOSED = {
    "public repo": repo("docs", visibility="public"),
    "private repo": repo("api", visibility="private"),
    "legacy public": repo("old", private=False),
    "internal repo": repo("core", visibility="internal", private=True),
    "internal hook": Resource(
        type="github.repo_hook",
        id="/repos/acme/x/hooks/1",
        data={},
        related={"repo": {"visibility": "internal"}},
    ),
    "outside admin": Resource(
        type="github.collaborator",
        id="/repos/acme/x/collaborators/jo",
        data={"permissions": {"admin": True}},
        related={"outside": True, "repo": {"visibility": "private"}},
    ),
    "owner": Resource(
        type="github.member", id="/orgs/acme/memberships/o", data={}, related={"membership": {"role": "admin"}}
    ),
    "org": Resource(type="github.org", id="/orgs/acme", data={}),
}
"""One resource for each way exposure can rise (or not)."""


def test_exposure_comes_from_the_vendor_data() -> None:
    """Public/internal repositories, outside collaborators, owners, admins and org-wide objects raise exposure."""
    labels = {name: exposure_of(resource) for name, resource in EXPOSED.items()}
    assert {k: [f.label for f in v] for k, v in labels.items()} == {
        "public repo": ["public repository"],
        "private repo": [],
        "legacy public": ["public repository"],
        "internal repo": ["internal repository"],
        "internal hook": ["internal repository"],
        "outside admin": ["outside collaborator", "admin rights"],
        "owner": ["organization owner"],
        "org": ["organization-wide"],
    }


def test_criticality_prefers_the_config_then_the_repository_then_its_custom_property() -> None:
    """Exact or longest glob on the resource, then on its repository, then the repo's custom property, then default."""
    resources = {
        "/repos/acme/pay": repo("pay", custom_properties={"criticality": "critical"}),
        "/repos/acme/web": repo("web", custom_properties={"criticality": "Low"}),
    }
    config = CriticalityConfig(
        default=Criticality.high,
        resources={"/repos/acme/*": Criticality.medium, "/repos/acme/web*": Criticality.critical},
    )
    assert criticality_of("/repos/acme/web/hooks/1", resources, config) == (Criticality.critical, "config")
    assert criticality_of("/repos/acme/api", resources, config) == (Criticality.medium, "config")
    assert criticality_of("/orgs/acme", resources, config) == (Criticality.high, "default")
    plain = CriticalityConfig()
    assert criticality_of("/repos/acme/pay/keys/7", resources, plain) == (Criticality.critical, "custom property")
    assert criticality_of("/repos/acme/web", resources, plain) == (Criticality.low, "custom property")
    exact = CriticalityConfig(resources={"/repos/acme/pay": Criticality.low})
    assert criticality_of("/repos/acme/pay/hooks/3", resources, exact) == (Criticality.low, "repository")


def test_offline_scan_scores_every_finding() -> None:
    """scan_tenant_file fills `risk` on each finding: the public docs repo outranks the private infra repo."""
    playbooks = load_playbooks([bundled_playbook_dir()]).playbooks
    scan = scan_tenant_file(demo_tenant_path(), playbooks)
    assert scan.findings and all(f.risk is not None for f in scan.findings)
    by_key = {(f.rule, f.resource.id): f.risk for f in scan.findings}
    docs = by_key[("github.repo.default_branch_unprotected", "/repos/acme/docs")]
    infra = by_key[("github.repo.default_branch_unprotected", "/repos/acme/infra")]
    assert docs is not None and infra is not None
    assert (docs.score, infra.score) == (80, 40)
    assert docs.explanation == "high severity (×4) · public repository (exposure ×2)"


def test_scoring_facts_score_as_the_whole_resources_do() -> None:
    """Scans keep only `scoring_facts` of the resources findings are about: every demo finding (repositories public
    and private, hooks, keys, members, admins, the org), with a custom property and a config, scores the same."""
    playbooks = load_playbooks([bundled_playbook_dir()]).playbooks
    scan = scan_tenant_file(demo_tenant_path(), playbooks)
    critical = {"custom_properties": {"criticality": "critical"}, "topics": ["x"] * 50}
    resources = [
        r.model_copy(update={"data": {**r.data, **critical}}) if r.id == "/repos/acme/infra" else r
        for r in scan.resources
    ]
    config = CriticalityConfig(resources={"/repos/acme/docs*": Criticality.low})
    whole = score_findings(scan.findings, resources, config)
    slim = [scoring_facts(r) for r in resources]
    assert [f.risk for f in score_findings(scan.findings, slim, config)] == [f.risk for f in whole]
    assert {f.risk.explanation for f in whole if f.risk} >= {"high severity (×4) · critical asset (×1.5)"}
    assert len({f.resource.type for f in whole}) >= 4
    assert sum(len(str(r.data)) for r in slim) * 10 < sum(len(str(r.data)) for r in resources)
    for resource in EXPOSED.values():  # every way exposure can rise, as the demo org has not all of them
        assert exposure_of(scoring_facts(resource)) == exposure_of(resource), resource.id


def test_findings_scored_alike_share_one_risk_score() -> None:
    """Findings with the same severity, criticality and exposure get one (immutable) RiskScore object: a scan of
    10,000 findings holds a handful of scores, not 10,000 sets of factors and explanations."""
    playbooks = load_playbooks([bundled_playbook_dir()]).playbooks
    scan = scan_tenant_file(demo_tenant_path(), playbooks)
    scored = score_findings(scan.findings, scan.resources)
    objects: dict[tuple[int, str], set[int]] = {}
    for f in scored:
        assert f.risk is not None
        objects.setdefault((f.risk.score, f.risk.explanation), set()).add(id(f.risk))
    assert all(len(ids) == 1 for ids in objects.values())
    assert 3 <= len(objects) < len(scored)
    assert [f.risk for f in scored] == [f.risk for f in scan.findings]


def test_criticality_config_raises_scores_of_the_named_assets(tmp_path: Path) -> None:
    """A criticality file read with load_criticality changes the scores of the resources it names."""
    config_file = tmp_path / "criticality.yaml"
    config_file.write_text("default: low\nresources:\n  /repos/acme/infra*: critical\n", encoding="utf-8")
    playbooks = load_playbooks([bundled_playbook_dir()]).playbooks
    scan = scan_tenant_file(demo_tenant_path(), playbooks, criticality=load_criticality(config_file))
    by_key = {(f.rule, f.resource.id): f.risk for f in scan.findings}
    infra = by_key[("github.repo.default_branch_unprotected", "/repos/acme/infra")]
    org = by_key[("github.org.two_factor_not_required", "/orgs/acme")]
    assert infra is not None and infra.score == 60 and "critical asset (×1.5)" in infra.explanation
    assert org is not None and org.score == round(10 * 5 * 0.5 * 1.5)


def test_bad_criticality_file_is_an_input_error_naming_the_key(tmp_path: Path) -> None:
    """An unknown tier is refused with the file and the key."""
    config_file = tmp_path / "criticality.yaml"
    config_file.write_text("default: urgent\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"criticality.yaml: invalid criticality config: default"):
        load_criticality(config_file)
