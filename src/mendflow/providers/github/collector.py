"""GitHub connector: read an organization's posture through the REST API, vendor-shaped.

`GithubCollector.collect()` yields `Resource`s as they arrive (so a scan can stream them to the snapshot store);
`fetch(ref)` re-reads one resource the same way, for verification after a change.
Resource ids are canonical API paths (docs/tenant-format.md).

Given a `Demand` (the loaded rules), `collect` reads a repository's default-branch protection and rulesets only
when some rule could still flag the repository with them (`rules/demand.py`; with the shipped playbooks: not for
archived repositories), and its hooks, deploy keys and collaborators (and the org's app installations,
`installations.py`) only when a rule applies to that type. A fact skipped this way is absent from `related` and is
not a coverage gap: no loaded rule's outcome depends on it.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import AsyncIterator, Collection
from typing import Any

from mendflow.config import TenantConnection
from mendflow.connectors.coverage import CoveredCollector, is_gap
from mendflow.connectors.credentials import Credential
from mendflow.connectors.http import GITHUB_LIMITS, VendorHttp, tenant_http
from mendflow.errors import ActionError, VendorError
from mendflow.models import Resource, ResourceRef
from mendflow.providers.github.installations import RESOURCE_TYPE as INSTALLATION
from mendflow.providers.github.installations import collect_installations, fetch_installation
from mendflow.rules.demand import Demand

API_VERSION = "2022-11-28"
MAX_PER_PAGE = 100
PAGE = {"per_page": MAX_PER_PAGE}
REPO_BATCH = 16
"""Repositories whose sub-collections are read at once: enough to keep the concurrency gate busy, few enough that
a 300-repository org never holds more than one batch of answers in memory."""
PROTECTION = (("related", "default_branch_protection"), ("related", "default_branch_rulesets"))
REPO_SUMMARY = ("related", "repo")
"""What a repository hook or key carries of its repository: read when re-reading one only if a rule uses it."""


def github_http(
    connection: TenantConnection, credential: Credential, *, max_concurrency: int | None = None
) -> VendorHttp:
    """The shared HTTP layer, configured for GitHub's headers, rate limits and the tenant's caps."""
    return tenant_http(
        connection,
        credential,
        vendor="GitHub",
        extra_headers={"X-GitHub-Api-Version": API_VERSION, "Accept": "application/vnd.github+json"},
        rate_limits=GITHUB_LIMITS,
        max_concurrency=max_concurrency,
    )


def _repo_summary(repo: dict[str, Any]) -> dict[str, Any]:
    return {k: repo.get(k) for k in ("name", "private", "visibility", "archived")}


def repo_path(repo: dict[str, Any]) -> str:
    """A repository's canonical path, `/repos/{full_name}`, as the vendor spells its name (GitHub reads any case)."""
    return f"/repos/{repo['full_name']}"


def collaborator_resource(
    repo: dict[str, Any], collaborator: dict[str, Any], outside_logins: Collection[str]
) -> Resource:
    """A repository collaborator as scans and targeted reads both build it. Its id is the canonical path the tenant
    format names (`/repos/{o}/{r}/collaborators/{login}`) from the repository's own `full_name`, so a webhook that
    writes the repository in another case still names the resource the scan found; `outside` when the org lists the
    login among its outside collaborators."""
    login = collaborator["login"]
    return Resource(
        type="github.collaborator",
        id=f"{repo_path(repo)}/collaborators/{login}",
        data=collaborator,
        related={"outside": login in outside_logins, "repo": _repo_summary(repo)},
    )


async def _nothing() -> None:
    """A sub-collection no loaded rule needs: not read (an empty listing, not a gap)."""


async def _no_facts() -> dict[str, Any]:
    return {}


def ruleset_targets_branch(ruleset: dict[str, Any], branch: str, default_branch: str) -> bool:
    """Does an active branch ruleset apply to `branch`? (`~DEFAULT_BRANCH`, `~ALL`, fnmatch patterns)."""
    if ruleset.get("enforcement") != "active" or ruleset.get("target", "branch") != "branch":
        return False
    ref_name = (ruleset.get("conditions") or {}).get("ref_name") or {}

    def matches(pattern: str) -> bool:
        if pattern == "~ALL":
            return True
        if pattern == "~DEFAULT_BRANCH":
            return branch == default_branch
        return fnmatch.fnmatchcase(f"refs/heads/{branch}", pattern) or fnmatch.fnmatchcase(branch, pattern)

    included = any(matches(p) for p in ref_name.get("include", []))
    excluded = any(matches(p) for p in ref_name.get("exclude", []))
    return included and not excluded


class GithubCollector(CoveredCollector):
    """Reads one organization. Repositories stream page by page; their sub-collections are read concurrently in
    bounded batches (the HTTP layer bounds the requests in flight)."""

    def __init__(self, http: VendorHttp, org: str, *, batch: int = REPO_BATCH) -> None:
        super().__init__(http, org)
        self.batch = batch

    async def _optional_list(self, path: str, **params: Any) -> list[Any] | None:
        """Read a whole collection; a 403/404 on it is a coverage gap, not a failure of the scan."""
        return await self.coverage.read_list(self.http, path, params={**PAGE, **params})

    async def collect(self, demand: Demand | None = None) -> AsyncIterator[Resource]:
        """Yield every resource of the organization; with a `demand`, per-repository sub-collections only where a
        loaded rule could use them (None: read everything)."""
        org = self.org
        org_obj = await self.http.get_json(f"/orgs/{org}")
        yield Resource(type="github.org", id=f"/orgs/{org}", data=org_obj)

        members = await self._optional_list(f"/orgs/{org}/members") or []
        no_2fa = await self._optional_list(f"/orgs/{org}/members", filter="2fa_disabled")
        admins = await self._optional_list(f"/orgs/{org}/members", role="admin")
        no_2fa_logins = None if no_2fa is None else {u["login"] for u in no_2fa}
        admin_logins = None if admins is None else {u["login"] for u in admins}
        for user in members:
            login = user["login"]
            membership = None
            if admin_logins is not None:
                membership = {"role": "admin" if login in admin_logins else "member", "state": "active"}
            yield Resource(
                type="github.member",
                id=f"/orgs/{org}/memberships/{login}",
                data=user,
                related={
                    "membership": membership,
                    "two_factor_disabled": None if no_2fa_logins is None else login in no_2fa_logins,
                },
            )

        outside = await self._optional_list(f"/orgs/{org}/outside_collaborators") or []
        outside_no_2fa = await self._optional_list(f"/orgs/{org}/outside_collaborators", filter="2fa_disabled")
        outside_no_2fa_logins = None if outside_no_2fa is None else {u["login"] for u in outside_no_2fa}
        for user in outside:
            login = user["login"]
            yield Resource(
                type="github.outside_collaborator",
                id=f"/orgs/{org}/outside_collaborators/{login}",
                data=user,
                related={
                    "two_factor_disabled": None if outside_no_2fa_logins is None else login in outside_no_2fa_logins
                },
            )

        for hook in await self._optional_list(f"/orgs/{org}/hooks") or []:
            yield Resource(type="github.org_hook", id=f"/orgs/{org}/hooks/{hook['id']}", data=hook)

        if demand is None or demand.wants(INSTALLATION):
            for installation in await collect_installations(self.http, self.coverage, org) or []:
                yield installation

        outside_logins = {u["login"] for u in outside}
        async for repos in self._repo_pages():
            # One batch of repos at a time, yielded in repo order for stable snapshots.
            for start in range(0, len(repos), self.batch):
                chunk = repos[start : start + self.batch]
                batches = await asyncio.gather(*(self._repo_resources(repo, outside_logins, demand) for repo in chunk))
                for batch in batches:
                    for resource in batch:
                        yield resource

    def _repo_pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The org's repositories, one page at a time; a forbidden listing is a coverage gap."""
        return self.coverage.read_pages(self.http, f"/orgs/{self.org}/repos", params={**PAGE, "type": "all"})

    async def _repo_resources(
        self, repo: dict[str, Any], outside_logins: set[str], demand: Demand | None = None
    ) -> list[Resource]:
        base = repo_path(repo)
        summary = _repo_summary(repo)

        def wanted(kind: str) -> bool:
            return demand is None or demand.wants(kind)

        hooks, keys, collaborators, related = await asyncio.gather(
            self._optional_list(f"{base}/hooks") if wanted("github.repo_hook") else _nothing(),
            self._optional_list(f"{base}/keys") if wanted("github.deploy_key") else _nothing(),
            self._optional_list(f"{base}/collaborators", affiliation="all")
            if wanted("github.collaborator")
            else _nothing(),
            self._default_branch_facts(repo)
            if demand is None or demand.needs("github.repo", PROTECTION, data=repo)
            else _no_facts(),
        )
        out = [Resource(type="github.repo", id=base, data=repo, related=related)]
        out += [
            Resource(type="github.repo_hook", id=f"{base}/hooks/{h['id']}", data=h, related={"repo": summary})
            for h in hooks or []
        ]
        out += [
            Resource(type="github.deploy_key", id=f"{base}/keys/{k['id']}", data=k, related={"repo": summary})
            for k in keys or []
        ]
        out += [collaborator_resource(repo, c, outside_logins) for c in collaborators or []]
        return out

    async def _default_branch_facts(self, repo: dict[str, Any]) -> dict[str, Any]:
        """Classic protection of the default branch, and active rulesets that cover it."""
        base = f"/repos/{repo['full_name']}"
        branch = repo.get("default_branch") or "main"
        self.coverage.expected += 1
        try:
            # 404 means "not protected", a fact; 403 means we may not look, a gap.
            protection = await self.http.get_optional(f"{base}/branches/{branch}/protection")
            self.coverage.read += 1
        except VendorError as err:
            if not is_gap(err):
                raise
            self.coverage.missed(f"{base}/branches/{branch}/protection", err)
            protection = None
        listed = await self._optional_list(f"{base}/rulesets", includes_parents="true", targets="branch") or []
        rulesets = []
        for summary in listed:
            if summary.get("enforcement") != "active":
                continue
            full = await self.http.get_optional(f"{base}/rulesets/{summary['id']}")
            if full is not None and ruleset_targets_branch(full, branch, branch):
                rulesets.append(full)
        return {"default_branch_protection": protection, "default_branch_rulesets": rulesets}

    async def fetch(self, ref: ResourceRef, demand: Demand | None = None) -> Resource | None:
        """Re-read one resource exactly as `collect` builds it; None when it is gone. With a `demand`, facts about
        other objects (a hook's repository, a repository's default-branch protection) only when a loaded rule could use
        them, as `collect` does."""
        parts = ref.id.strip("/").split("/")
        if ref.type == "github.org":
            data = await self.http.get_optional(ref.id)
            return None if data is None else Resource(type=ref.type, id=ref.id, data=data)
        if ref.type == "github.org_hook":
            data = await self.http.get_optional(ref.id)
            return None if data is None else Resource(type=ref.type, id=ref.id, data=data)
        if ref.type == "github.repo":
            repo = await self.http.get_optional(ref.id)
            if repo is None:
                return None
            if demand is not None and not demand.needs(ref.type, PROTECTION, data=repo):
                return Resource(type=ref.type, id=ref.id, data=repo)
            related = await self._default_branch_facts(repo)
            return Resource(type=ref.type, id=ref.id, data=repo, related=related)
        if ref.type == "github.repo_hook":
            repo_path = "/" + "/".join(parts[:3])
            if demand is not None:
                hook = await self.http.get_optional(ref.id)
                if hook is None:
                    return None
                if not demand.needs(ref.type, [REPO_SUMMARY], data=hook):
                    return Resource(type=ref.type, id=ref.id, data=hook)
                repo = await self.http.get_optional(repo_path)
            else:
                repo, hook = await asyncio.gather(self.http.get_optional(repo_path), self.http.get_optional(ref.id))
            if repo is None or hook is None:
                return None
            return Resource(type=ref.type, id=ref.id, data=hook, related={"repo": _repo_summary(repo)})
        if ref.type == INSTALLATION:
            return await fetch_installation(self.http, self.org, ref.id)
        raise ActionError(f"re-reading resources of type {ref.type} is not supported yet")
