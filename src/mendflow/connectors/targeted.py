"""Targeted collection: read only the resources a webhook named, exactly as a full scan builds them.

A *target* is a canonical API path (docs/tenant-format.md): one resource (`/repos/acme/web`,
`/api/v1/users/00u1`) or one sub-collection (`/repos/acme/web/keys`). Each is read in at most three requests
(plus one per active ruleset of a repository), and each read also says what it *covered*: the scopes (an id and
everything under it) that were enumerated completely. The ledger resolves as deleted only findings inside a
covered scope whose resource was not read, so a targeted rescan never resolves what it did not look at.

| target | requests |
|---|---|
| `/orgs/{org}` | the org |
| `/orgs/{org}/memberships/{login}` | the membership, the 2FA-disabled member list |
| `/orgs/{org}/outside_collaborators/{login}` | the outside collaborators, those without 2FA |
| `/orgs/{org}/hooks` · `/orgs/{org}/hooks/{id}` | the org's hooks · that hook |
| `/repos/{o}/{r}` | the repo, its default branch's protection, its rulesets (+ each active one: only here above 3) |
| `/repos/{o}/{r}/hooks` · `/keys` | the repo, that collection |
| `/repos/{o}/{r}/collaborators` | the repo, its collaborators, the org's outside collaborators |
| `/api/v1/users/{id}` | the user, its roles, its factors |
| `/api/v1/api-tokens/{id}` | the token, its owner's roles |
| `/api/v1/policies/{id}` · `/api/v1/policies/{id}/rules` | the policy · the policy and its rules |
| `/api/v1/groups/{id}` · `/api/v1/apps/{id}` | that object |
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mendflow.errors import InputError
from mendflow.models import Resource, ResourceRef
from mendflow.providers.github.collector import GithubCollector, _repo_summary
from mendflow.providers.okta.collector import OktaCollector, _policy_summary

_SEGMENT = r"[^/]+"


@dataclass
class TargetedRead:
    """What a targeted collection read: the resources, and the scopes it enumerated completely."""

    resources: list[Resource] = field(default_factory=list)
    covered: list[str] = field(default_factory=list)
    """Ids whose resource (and everything under it) was read completely: a finding there that was not read is
    about a deleted resource."""
    refused: list[str] = field(default_factory=list)
    """Targets not read: no reader knows the path, or it belongs to another organization than the tenant's."""

    def add(self, resource: Resource) -> None:
        self.resources.append(resource)

    def extend(self, other: TargetedRead) -> None:
        self.resources += other.resources
        self.covered += other.covered
        self.refused += other.refused


Reader = Callable[[Any, re.Match[str]], Awaitable[TargetedRead]]


def _gone(scope: str) -> TargetedRead:
    return TargetedRead(covered=[scope])


# ---- GitHub -------------------------------------------------------------------------------------------------
async def _gh_org(c: GithubCollector, m: re.Match[str]) -> TargetedRead:
    data = await c.http.get_optional(m[0])
    return TargetedRead([Resource(type="github.org", id=m[0], data=data)]) if data else _gone(m[0])


async def _gh_member(c: GithubCollector, m: re.Match[str]) -> TargetedRead:
    org, login = m["org"], m["login"]
    membership = await c.http.get_optional(f"/orgs/{org}/memberships/{login}")
    if membership is None or membership.get("state") != "active":
        return _gone(m[0])  # a pending invitation is not a member yet: full scans list active members only
    no_2fa = await c._optional_list(f"/orgs/{org}/members", filter="2fa_disabled")
    resource = Resource(
        type="github.member",
        id=m[0],
        data=membership["user"],
        related={
            "membership": {"role": membership.get("role", "member"), "state": "active"},
            "two_factor_disabled": None if no_2fa is None else login in {u["login"] for u in no_2fa},
        },
    )
    return TargetedRead([resource])


async def _gh_outside(c: GithubCollector, m: re.Match[str]) -> TargetedRead:
    org, login = m["org"], m["login"]
    outside = await c._optional_list(f"/orgs/{org}/outside_collaborators")
    if outside is None:
        return TargetedRead()  # a gap: nothing read, nothing covered
    user = next((u for u in outside if u["login"] == login), None)
    if user is None:
        return _gone(m[0])
    no_2fa = await c._optional_list(f"/orgs/{org}/outside_collaborators", filter="2fa_disabled")
    related = {"two_factor_disabled": None if no_2fa is None else login in {u["login"] for u in no_2fa}}
    return TargetedRead([Resource(type="github.outside_collaborator", id=m[0], data=user, related=related)])


async def _gh_org_hooks(c: GithubCollector, m: re.Match[str]) -> TargetedRead:
    hooks = await c._optional_list(m[0])
    if hooks is None:
        return TargetedRead()  # a gap: nothing read, nothing covered
    org = m["org"]
    return TargetedRead(
        [Resource(type="github.org_hook", id=f"/orgs/{org}/hooks/{h['id']}", data=h) for h in hooks], [m[0]]
    )


async def _gh_org_hook(c: GithubCollector, m: re.Match[str]) -> TargetedRead:
    hook = await c.http.get_optional(m[0])
    return TargetedRead([Resource(type="github.org_hook", id=m[0], data=hook)]) if hook else _gone(m[0])


async def _gh_repo(c: GithubCollector, m: re.Match[str]) -> TargetedRead:
    repo = await c.http.get_optional(m[0])
    if repo is None:
        return _gone(m[0])  # the repository and everything under it
    related = await c._default_branch_facts(repo)
    return TargetedRead([Resource(type="github.repo", id=m[0], data=repo, related=related)])


_REPO_COLLECTIONS = {"hooks": "github.repo_hook", "keys": "github.deploy_key", "collaborators": "github.collaborator"}


async def _gh_repo_collection(c: GithubCollector, m: re.Match[str]) -> TargetedRead:
    base, kind = m["repo"], m["kind"]
    repo = await c.http.get_optional(base)
    if repo is None:
        return _gone(base)
    summary = _repo_summary(repo)
    if kind == "collaborators":
        items = await c._optional_list(m[0], affiliation="all")
        outside = await c._optional_list(f"/orgs/{c.org}/outside_collaborators") or []
        logins = {u["login"] for u in outside}
        resources = [
            Resource(
                type="github.collaborator",
                id=f"{m[0]}/{item['login']}",
                data=item,
                related={"outside": item["login"] in logins, "repo": summary},
            )
            for item in items or []
        ]
    else:
        items = await c._optional_list(m[0])
        resources = [
            Resource(type=_REPO_COLLECTIONS[kind], id=f"{m[0]}/{item['id']}", data=item, related={"repo": summary})
            for item in items or []
        ]
    return TargetedRead(resources, [] if items is None else [m[0]])


_ORG = rf"/orgs/(?P<org>{_SEGMENT})"
_REPO = rf"(?P<repo>/repos/{_SEGMENT}/{_SEGMENT})"
GITHUB_TARGETS: list[tuple[re.Pattern[str], Reader]] = [
    (re.compile(rf"{_ORG}"), _gh_org),
    (re.compile(rf"{_ORG}/memberships/(?P<login>{_SEGMENT})"), _gh_member),
    (re.compile(rf"{_ORG}/outside_collaborators/(?P<login>{_SEGMENT})"), _gh_outside),
    (re.compile(rf"{_ORG}/hooks"), _gh_org_hooks),
    (re.compile(rf"{_ORG}/hooks/\d+"), _gh_org_hook),
    (re.compile(_REPO), _gh_repo),
    (re.compile(rf"{_REPO}/(?P<kind>hooks|keys|collaborators)"), _gh_repo_collection),
]


# ---- Okta ---------------------------------------------------------------------------------------------------
async def _okta_fetch(c: OktaCollector, m: re.Match[str], kind: str) -> TargetedRead:
    found = await c.fetch(ResourceRef(type=kind, id=m[0]))
    return TargetedRead([found]) if found is not None else _gone(m[0])


async def _okta_rules(c: OktaCollector, m: re.Match[str]) -> TargetedRead:
    policy_path = m["policy"]
    policy = await c.http.get_optional(policy_path)
    if policy is None:
        return _gone(policy_path)
    rules = await c._list(m[0], template="/api/v1/policies/{id}/rules")
    resources = [
        Resource(type="okta.policy_rule", id=f"{m[0]}/{r['id']}", data=r, related={"policy": _policy_summary(policy)})
        for r in rules or []
    ]
    return TargetedRead(resources, [] if rules is None else [m[0]])


def _okta(kind: str) -> Reader:
    async def read(c: OktaCollector, m: re.Match[str]) -> TargetedRead:
        return await _okta_fetch(c, m, kind)

    return read


OKTA_TARGETS: list[tuple[re.Pattern[str], Reader]] = [
    (re.compile(rf"/api/v1/users/{_SEGMENT}"), _okta("okta.user")),
    (re.compile(rf"/api/v1/api-tokens/{_SEGMENT}"), _okta("okta.api_token")),
    (re.compile(rf"/api/v1/groups/{_SEGMENT}"), _okta("okta.group")),
    (re.compile(rf"/api/v1/apps/{_SEGMENT}"), _okta("okta.app")),
    (re.compile(rf"(?P<policy>/api/v1/policies/{_SEGMENT})"), _okta("okta.policy")),
    (re.compile(rf"(?P<policy>/api/v1/policies/{_SEGMENT})/rules"), _okta_rules),
]


def reader_for(provider: str, target: str) -> tuple[Reader, re.Match[str]]:
    """The reader of `target` for `provider`; a path no reader knows is the caller's mistake."""
    table = GITHUB_TARGETS if provider == "github" else OKTA_TARGETS if provider == "okta" else []
    for pattern, reader in table:
        match = pattern.fullmatch(target)
        if match:
            return reader, match
    raise InputError(f"{provider}: {target!r} is not a resource or collection a targeted rescan can read")


def is_target(provider: str, target: str) -> bool:
    """Can a targeted rescan read `target`?"""
    try:
        reader_for(provider, target)
    except InputError:
        return False
    return True


def belongs(provider: str, org: str, target: str) -> bool:
    """Is `target` inside the tenant `org`? A GitHub delivery names repositories by full name, and a signed
    delivery for one tenant must never make its token read (and its ledger record) another organization."""
    if provider != "github":
        return True  # Okta paths carry no org: the tenant's base URL is the org
    parts = target.strip("/").split("/")
    return len(parts) >= 2 and parts[0] in ("orgs", "repos") and parts[1].casefold() == org.casefold()


async def collect_targets(provider: str, collector: Any, targets: list[str]) -> TargetedRead:
    """Read each target once (in order), as a full scan would build its resources; unknown paths and paths of
    another organization are listed in `refused`, not read."""
    out = TargetedRead()
    for target in dict.fromkeys(targets):
        if not is_target(provider, target) or not belongs(provider, collector.org, target):
            out.refused.append(target)
            continue
        reader, match = reader_for(provider, target)
        out.extend(await reader(collector, match))
    return out


__all__ = ["GITHUB_TARGETS", "OKTA_TARGETS", "TargetedRead", "belongs", "collect_targets", "is_target", "reader_for"]
