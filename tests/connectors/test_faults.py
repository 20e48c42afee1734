"""Scans under injected faults, over real loopback HTTP: complete inventories despite 5xx, latency, truncated
bodies and tight rate limits; honest coverage gaps (never invented findings) for 403s; a clear stop at the
request budget. Faults are seeded, so every run injects the same ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mendflow.connectors.http import RequestBudgetExceeded
from mendflow.models import Resource
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.rules import compile_rules
from mendflow.sim.common import FaultPlan
from mendflow.tenant import TenantFile
from tests.connectors.conftest import serve

FAULTS = {
    "server errors": FaultPlan(seed=3, error_rate=0.2),
    "latency": FaultPlan(seed=3, latency=0.01),
    "truncated bodies": FaultPlan(seed=3, truncate_rate=0.2),
    "everything at once": FaultPlan(seed=5, error_rate=0.1, latency=0.005, truncate_rate=0.1),
}


def _ids(resources: list[Resource]) -> list[tuple[str, str]]:
    return [(r.type, r.id) for r in resources]


async def _scan(
    tenant: TenantFile, faults: FaultPlan | None = None, **options: object
) -> tuple[list[Resource], object]:
    with serve(tenant, faults, **options) as served:
        resources, session = await served.collect()
        # The simulator serves vendor URLs on its own base, which differs per run: compare them without it.
        base = served.connection.base_url.rstrip("/")
        same = [
            Resource.model_validate_json(r.model_dump_json().replace(base, "https://sim.invalid")) for r in resources
        ]
        return same, (session, served.app.state.fault_stats)


@pytest.mark.parametrize("provider", ["okta", "github"])
@pytest.mark.parametrize("fault", list(FAULTS), ids=str)
async def test_transient_faults_still_give_the_complete_inventory(
    okta_tenant: TenantFile, github_tenant: TenantFile, provider: str, fault: str
) -> None:
    """Retries absorb 5xx, slow answers and cut-off bodies: same resources, same data, full coverage."""
    tenant = okta_tenant if provider == "okta" else github_tenant
    clean, _ = await _scan(tenant)
    faulty, (session, stats) = await _scan(tenant, FAULTS[fault])
    assert faulty == clean
    assert session.collector.gaps == [] and session.collector.coverage.fraction == 1.0  # type: ignore[attr-defined]
    if fault != "latency":
        assert sum(stats.values()) > 0, "the plan injected nothing, so the test proved nothing"  # type: ignore[attr-defined]
        assert session.http.requests_made > len({r.id for r in clean}) // 4  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_faults_are_deterministic_for_a_seed(okta_tenant: TenantFile) -> None:
    """The same seed injects the same faults into the same requests."""
    plan = FaultPlan(seed=11, error_rate=0.1, truncate_rate=0.05)
    _, (_, first) = await _scan(okta_tenant, plan, max_concurrency=1)
    _, (_, second) = await _scan(okta_tenant, plan, max_concurrency=1)
    assert first == second and sum(first.values()) > 0  # type: ignore[attr-defined]


async def test_forbidden_okta_collection_is_a_named_gap_and_never_a_finding(okta_tenant: TenantFile) -> None:
    """403 on every user's factors: users still arrive with factors null, coverage drops, one grouped gap, and
    the MFA rule reports evaluation errors instead of findings."""
    resources, (session, _) = await _scan(okta_tenant, FaultPlan(forbidden=("/api/v1/users/*/factors",)))
    users = [r for r in resources if r.type == "okta.user"]
    assert users and all(r.related["factors"] is None for r in users)
    gaps = session.collector.gaps  # type: ignore[attr-defined]
    assert [(g.endpoint, g.reason) for g in gaps] == [
        ("/api/v1/users/{id}/factors", f"HTTP 403 ({len(users)} collections)")
    ]
    coverage = session.collector.coverage  # type: ignore[attr-defined]
    assert coverage.read == coverage.expected - len(users) and 0 < coverage.fraction < 1
    playbooks = [p for p in load_playbooks([bundled_playbook_dir()]).playbooks if p.id == "okta.user.admin_without_mfa"]
    result = compile_rules(playbooks).evaluate(resources, tenant="acme", provider="okta", as_of=datetime.now(UTC))
    assert result.findings == [] and result.errors


async def test_forbidden_github_collection_is_a_gap_and_the_rest_is_read(github_tenant: TenantFile) -> None:
    """403 on repository hooks: repos, keys and collaborators still arrive; the hooks are a gap per repository."""
    clean, _ = await _scan(github_tenant)
    resources, (session, _) = await _scan(github_tenant, FaultPlan(forbidden=("GET /repos/*/*/hooks",)))
    assert _ids(resources) == [i for i in _ids(clean) if i[0] != "github.repo_hook"]
    assert {g.endpoint for g in session.collector.gaps} == {  # type: ignore[attr-defined]
        f"/repos/acme/{r['name']}/hooks" for r in github_tenant.section()["repos"]
    }


async def test_a_forbidden_paged_listing_is_one_gap_and_the_rest_is_read(
    okta_tenant: TenantFile, github_tenant: TenantFile
) -> None:
    """403 on the big listings read page by page (Okta users, GitHub repositories): no user or repository, one gap
    naming the listing, everything else still read (`Coverage.read_pages`, shared by both collectors)."""
    resources, (session, _) = await _scan(okta_tenant, FaultPlan(forbidden=("GET /api/v1/users",)))
    assert not [r for r in resources if r.type == "okta.user"] and [r for r in resources if r.type == "okta.group"]
    assert [g.endpoint for g in session.collector.gaps] == ["/api/v1/users"]  # type: ignore[attr-defined]
    resources, (session, _) = await _scan(github_tenant, FaultPlan(forbidden=("GET /orgs/*/repos",)))
    assert not [r for r in resources if r.type.startswith("github.repo")] and [r for r in resources]
    assert [g.endpoint for g in session.collector.gaps] == ["/orgs/acme/repos"]  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["okta", "github"])
async def test_tight_rate_limit_slows_the_scan_but_loses_nothing(
    okta_tenant: TenantFile, github_tenant: TenantFile, provider: str
) -> None:
    """With a handful of requests per one-second window, the scan waits for resets and still reads everything."""
    tenant = okta_tenant if provider == "okta" else github_tenant
    clean, _ = await _scan(tenant)
    # Okta limits each endpoint separately; GitHub has one bucket for everything, so it gets a larger one.
    plan = FaultPlan(rate_limit=4 if provider == "okta" else 15, rate_window=1.0)
    limited, (session, _) = await _scan(tenant, plan, max_concurrency=4)
    assert limited == clean
    assert session.collector.coverage.fraction == 1.0  # type: ignore[attr-defined]


async def test_request_budget_stops_the_scan_and_names_the_budget(okta_tenant: TenantFile) -> None:
    """A scan that needs more requests than its budget fails with an error naming the budget."""
    with pytest.raises(RequestBudgetExceeded, match="request budget of 5 requests"):
        await _scan(okta_tenant, request_budget=5)
