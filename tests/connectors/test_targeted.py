"""Targeted collection (`connectors.targeted`): a resource read by its canonical path is exactly the resource a
full collection builds, in at most three requests, and a targeted read covers only what it enumerated."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mendflow.connectors.targeted import collect_targets, is_target
from mendflow.models import Resource
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.rules import Demand, compile_rules
from mendflow.sim.common import FaultPlan
from mendflow.sim.generate import github_tenant, okta_tenant
from mendflow.tenant import TenantFile, load_tenant_file
from tests.connectors.conftest import GITHUB_DEMO, OKTA_DEMO, Served, serve, tenant_from

SECRET_SCANNING = "github.repo.secret_scanning_disabled"
SUB_COLLECTIONS = {"github.repo_hook": 4, "github.deploy_key": 4, "github.collaborator": 4, "okta.policy_rule": 5}
"""Types read through their parent's collection: how many path segments name that collection."""


def target_of(resource: Resource) -> str:
    """The target a webhook about `resource` maps to: the resource, or the collection that holds it."""
    depth = SUB_COLLECTIONS.get(resource.type)
    return resource.id if depth is None else "/" + "/".join(resource.id.strip("/").split("/")[:depth])


def _rulesets(resource: Resource) -> int:
    return len(resource.related.get("default_branch_rulesets") or []) if resource.type == "github.repo" else 0


async def _same_as_full(served: Served, provider: str, demand: Demand | None = None) -> int:
    """Every resource a full collection (by `demand`) builds, re-read by its target (by `demand`), is the same;
    the requests the targeted reads made."""
    async with served.session() as session:
        full = [r async for r in session.collector.collect(demand)]
    assert full
    total = 0
    for resource in full:
        target = target_of(resource)
        assert is_target(provider, target), target
        async with served.session() as session:
            read = await collect_targets(provider, session.collector, [target], demand=demand)
            requests = session.http.requests_made
        found = {r.id: r for r in read.resources}
        assert found.get(resource.id) == resource, resource.id
        assert requests <= 3 + _rulesets(resource), (resource.id, requests)
        total += requests
    return total


@pytest.mark.parametrize("path", [GITHUB_DEMO, OKTA_DEMO], ids=["github", "okta"])
async def test_every_resource_read_by_its_path_equals_the_full_collection(path: object) -> None:
    """Each demo resource, re-read through its target, is byte-for-byte what a full scan built, in ≤ 3 requests."""
    tenant = load_tenant_file(path)  # type: ignore[arg-type]
    with serve(tenant) as served:
        await _same_as_full(served, tenant.provider)


@pytest.mark.parametrize(
    "tenant",
    [tenant_from(github_tenant(repos=6, members=12)), tenant_from(okta_tenant(users=40))],
    ids=["github", "okta"],
)
async def test_generated_tenants_read_by_path_equal_the_full_collection(tenant: TenantFile) -> None:
    """The same on small generated tenants (every resource type the generators make)."""
    with serve(tenant) as served:
        await _same_as_full(served, tenant.provider)


async def test_read_by_demand_a_repository_is_what_a_full_scan_by_demand_builds_in_one_request() -> None:
    """With only the secret-scanning rule loaded (no rule reads branch protection), each resource re-read by its
    path equals the full scan's by demand, and a repository costs one request instead of three."""
    tenant = tenant_from(github_tenant(repos=6, members=3))
    [rule] = [p for p in load_playbooks([bundled_playbook_dir()]).playbooks if p.id == SECRET_SCANNING]
    with serve(tenant) as served:
        async with served.session() as session:
            repos = [r.id async for r in session.collector.collect() if r.type == "github.repo"]
        await _same_as_full(served, "github", Demand(compile_rules([rule])))
        async with served.session() as session:
            await collect_targets("github", session.collector, repos, demand=Demand(compile_rules([rule])))
            assert session.http.requests_made == len(repos) == 6


async def test_a_deleted_repository_is_covered_and_nothing_is_read() -> None:
    """A repository that answers 404 covers its whole scope, so the ledger may resolve its findings as deleted."""
    with serve(load_tenant_file(GITHUB_DEMO)) as served:
        async with served.session() as session:
            read = await collect_targets("github", session.collector, ["/repos/acme/no-such-repo"])
    assert read.resources == [] and read.covered == ["/repos/acme/no-such-repo"]


async def test_a_forbidden_collection_covers_nothing() -> None:
    """A 403 on a repository's hooks is a gap: nothing read, nothing covered (its findings stay open)."""
    tenant = load_tenant_file(GITHUB_DEMO)
    with serve(tenant, faults=FaultPlan(forbidden=("/repos/*/*/hooks",))) as served:
        full, _ = await served.collect()
        repo = next(r.id for r in full if r.type == "github.repo")
        async with served.session() as session:
            read = await collect_targets("github", session.collector, [f"{repo}/hooks"])
    assert read.resources == [] and read.covered == []


async def test_paths_of_another_org_or_unknown_are_refused_unread() -> None:
    """A delivery naming another organization's repository, or a path no reader knows, costs no request."""
    with serve(load_tenant_file(GITHUB_DEMO)) as served:
        async with served.session() as session:
            read = await collect_targets(
                "github", session.collector, ["/repos/other/web", "/orgs/other", "/repos/acme/web/pulls"]
            )
            assert session.http.requests_made == 0
    assert read.refused == ["/repos/other/web", "/orgs/other", "/repos/acme/web/pulls"]


async def test_a_target_named_twice_is_read_once() -> None:
    """A burst that names one user five times costs one user's reads."""
    tenant = load_tenant_file(OKTA_DEMO)
    with serve(tenant) as served:
        full, _ = await served.collect()
        user = next(r.id for r in full if r.type == "okta.user")
        async with served.session() as session:
            read = await collect_targets("okta", session.collector, [user] * 5)
            assert session.http.requests_made == 3
    assert [r.id for r in read.resources] == [user]


@pytest.mark.parametrize(
    ("path", "target"),
    [(OKTA_DEMO, "/api/v1/users/00u00000000000001sim"), (GITHUB_DEMO, "/repos/acme/docs")],
    ids=["okta-user", "github-repo"],
)
async def test_the_simulator_sees_at_most_three_requests_for_one_resource(path: object, target: str) -> None:
    """Counted on the vendor's side, not the client's: one resource, three requests."""
    tenant = load_tenant_file(path)  # type: ignore[arg-type]
    with serve(tenant) as served:
        seen: list[str] = []
        inner = served.app.middleware_stack or served.app.build_middleware_stack()
        served.app.middleware_stack = inner

        async def counting(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await inner(scope, receive, send)

        served.app.middleware_stack = counting  # type: ignore[assignment]
        async with served.session() as session:
            read = await collect_targets(tenant.provider, session.collector, [target])
    assert [r.id for r in read.resources] == [target]
    assert 1 <= len(seen) <= 3, seen


async def test_collaborators_read_through_another_case_keep_the_scans_canonical_ids() -> None:
    """A webhook may write the repository in another case (GitHub reads any): the collaborators it re-reads are the
    scan's, ids `/repos/{full_name}/collaborators/{login}` as tenant-v1 names them, not the delivery's spelling."""
    with serve(load_tenant_file(GITHUB_DEMO)) as served:
        full, _ = await served.collect()
        scanned = [r for r in full if r.type == "github.collaborator"]
        repo = scanned[0].id.split("/collaborators/")[0]
        shouted = "/repos/" + repo.removeprefix("/repos/").upper()
        async with served.session() as session:
            read = await collect_targets("github", session.collector, [f"{shouted}/collaborators"])
    from_repo = [r for r in scanned if r.id.startswith(f"{repo}/collaborators/")]
    assert from_repo and read.resources == from_repo
    assert all(r.id == f"{repo}/collaborators/{r.data['login']}" for r in read.resources)


async def test_many_targets_are_read_concurrently_and_kept_in_their_order() -> None:
    """Twenty repositories named at once: their reads overlap on the vendor's side (not one answer awaited at a
    time), and the resources come back in the order the targets were named."""
    tenant = tenant_from(github_tenant(repos=20, members=2))
    with serve(tenant) as served:
        inner = served.app.middleware_stack or served.app.build_middleware_stack()
        in_flight = [0, 0]  # now, most at once

        async def slow(scope: Any, receive: Any, send: Any) -> None:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
            try:
                await asyncio.sleep(0.02)
                await inner(scope, receive, send)
            finally:
                in_flight[0] -= 1

        served.app.middleware_stack = slow  # type: ignore[assignment]
        full, _ = await served.collect()
        repos = [r.id for r in full if r.type == "github.repo"][::-1]
        in_flight[1] = 0
        async with served.session() as session:
            read = await collect_targets("github", session.collector, repos)
    assert [r.id for r in read.resources] == repos
    assert in_flight[1] > 1
