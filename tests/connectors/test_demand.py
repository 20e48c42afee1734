"""Rule-driven collection against the simulators over loopback: the same findings and rule errors as a full
collection, with fewer requests, on the demo tenants and generated ones, with every shipped playbook loaded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mendflow.findings.store import FindingsLedger
from mendflow.models import Resource
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.rules import Demand, RuleSet, compile_rules
from mendflow.sim.common import FaultPlan
from mendflow.sim.generate import github_tenant, okta_id, okta_tenant
from mendflow.store import Database
from mendflow.tenant import TenantFile
from tests.connectors.conftest import Served, serve, tenant_from

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


def _shipped() -> list[Playbook]:
    return load_playbooks([bundled_playbook_dir()]).playbooks


async def _collect(served: Served, demand: Demand | None) -> tuple[list[Resource], int, list[str], float]:
    async with served.session() as session:
        resources = [r async for r in session.collector.collect(demand)]
        gaps = [g.endpoint for g in session.collector.gaps]  # (the count of collections in a reason may differ)
        return resources, session.http.requests_made, gaps, session.collector.coverage.fraction


def _outcome(rules: RuleSet, resources: list[Resource], provider: str) -> tuple[list[Any], list[Any]]:
    result = rules.evaluate(resources, tenant="t", provider=provider, as_of=AS_OF)
    return [f.model_dump(mode="json") for f in result.findings], [e.model_dump() for e in result.errors]


async def _compare(tenant: TenantFile, faults: FaultPlan | None = None) -> tuple[int, int, list[Resource]]:
    """Collect fully and by demand; assert identical findings, errors, gaps and resource ids; the two request
    counts and the demand-driven inventory."""
    rules = compile_rules(_shipped())
    with serve(tenant, faults) as served:
        full, full_requests, full_gaps, full_coverage = await _collect(served, None)
        lean, lean_requests, lean_gaps, lean_coverage = await _collect(served, Demand(rules))
    findings, errors = _outcome(rules, full, tenant.provider)
    assert findings, "the tenant should have findings for this comparison to mean anything"
    assert _outcome(rules, lean, tenant.provider) == (findings, errors)
    assert [r.id for r in lean] == [r.id for r in full]  # every resource is still read
    assert lean_gaps == full_gaps  # a skipped sub-collection is no gap
    assert (lean_coverage == 1.0) == (full_coverage == 1.0)
    return full_requests, lean_requests, lean


async def test_demo_okta_org_same_findings_fewer_requests(okta_tenant: TenantFile) -> None:
    """On the demo Okta org, only role holders' factors are read, and the findings are the full scan's."""
    full, lean, resources = await _compare(okta_tenant)
    users = [r for r in resources if r.type == "okta.user"]
    with_factors = [r for r in users if "factors" in r.related]
    assert with_factors and all(r.related["roles"] for r in with_factors)
    assert full - lean == len(users) - len(with_factors)


async def test_demo_github_org_same_findings(github_tenant: TenantFile) -> None:
    """On the demo GitHub org (no archived repositories) nothing may be skipped: every request is still made."""
    full, lean, _ = await _compare(github_tenant)
    assert lean == full


async def test_generated_okta_org_reads_factors_of_admins_only() -> None:
    """A generated 250-user org: factor reads drop from one per user to one per active role holder."""
    full, lean, resources = await _compare(tenant_from(okta_tenant(users=250)))
    users = [r for r in resources if r.type == "okta.user"]
    read = [r for r in users if "factors" in r.related]
    assert 0 < len(read) <= 25 and full - lean == len(users) - len(read)


async def test_generated_github_org_skips_protection_of_archived_repositories() -> None:
    """Archived repositories' branch protection and rulesets are not read; findings stay the full scan's."""
    document = github_tenant(repos=12, members=20)
    for n, repo in enumerate(document["github"]["repos"]):
        repo["archived"] = n % 3 == 0
    full, lean, resources = await _compare(tenant_from(document))
    repos = [r for r in resources if r.type == "github.repo"]
    skipped = [r for r in repos if "default_branch_protection" not in r.related]
    assert {r.id for r in skipped} == {r.id for r in repos if r.data["archived"]}
    assert full - lean >= 2 * len(skipped)


@pytest.mark.parametrize("forbidden", ["/api/v1/iam/assignees/users", "/api/v1/users/*/factors"])
async def test_okta_gaps_give_the_same_findings_and_errors(okta_tenant: TenantFile, forbidden: str) -> None:
    """Without the assignee list (roles read per user) or without factor access, by-demand collection still
    reports exactly the full collection's findings, rule errors and gaps."""
    await _compare(okta_tenant, FaultPlan(forbidden=(forbidden,)))


async def test_no_rule_means_no_sub_collection(okta_tenant: TenantFile) -> None:
    """With only rules that never read factors loaded, no factor is read at all."""
    rules = compile_rules([p for p in _shipped() if p.id == "okta.user.inactive"])
    with serve(okta_tenant) as served:
        resources, _, _, _ = await _collect(served, Demand(rules))
    assert not [r for r in resources if "factors" in r.related]


async def test_an_admin_demoted_resolves_as_fixed_elsewhere_not_deleted(
    okta_tenant: TenantFile, tmp_path: Path
) -> None:
    """DAVE (admin without MFA) loses his role: his factors are no longer read, yet he was read, so the finding
    resolves as fixed elsewhere, exactly as after a full collection (never as a deleted resource)."""
    rules = compile_rules(_shipped())
    rule_ids = [rule.playbook.id for rule in rules.rules if rule.playbook.resource.startswith("okta.")]
    dave = f"/api/v1/users/{okta_id('00u', 4)}"
    outcomes: list[tuple[str | None, str | None]] = []
    for demand in (None, Demand(rules)):
        database = Database.open(f"sqlite:///{tmp_path / f'ledger-{len(outcomes)}.db'}")
        ledger = FindingsLedger(database)
        with serve(okta_tenant) as served:
            for demote in (False, True):
                if demote:
                    served.app.state.okta.user_roles.pop(okta_id("00u", 4))
                resources, _, gaps, _ = await _collect(served, demand)
                result = rules.evaluate(resources, tenant="acme", provider="okta", as_of=AS_OF)
                ledger.reconcile(
                    "okta:acme",
                    result.findings,
                    rules=rule_ids,
                    seen_at=datetime.now(UTC),
                    read={r.id for r in resources},
                    complete=not gaps,
                )
        [row] = [r for r in ledger.rows("okta:acme") if r.finding.resource.id == dave and "mfa" in r.finding.rule]
        outcomes.append((row.status.value, row.resolution.value if row.resolution else None))
        database.dispose()
    assert outcomes[0] == outcomes[1] == ("resolved", "fixed elsewhere")
