"""GitHub's targeted reads: what a webhook-named path costs to read again, built exactly as a full scan builds it.

| target | requests |
|---|---|
| `/orgs/{org}` | the org |
| `/orgs/{org}/memberships/{login}` | the membership, the 2FA-disabled member list |
| `/orgs/{org}/outside_collaborators/{login}` | the outside collaborators, those without 2FA |
| `/orgs/{org}/hooks` · `/orgs/{org}/hooks/{id}` | the org's hooks · that hook |
| `/repos/{o}/{r}` | the repo, its default branch's protection, its rulesets (+ each active one: only here above 3; the
two facts only when a loaded rule could use them, as a full scan) |
| `/repos/{o}/{r}/hooks` · `/keys` | the repo, that collection |
| `/repos/{o}/{r}/collaborators` | the repo, its collaborators, the org's outside collaborators |
| `/orgs/{org}/installations` · `/app/installations/{id}` | the org's app installations (a page per 100) |
"""

from __future__ import annotations

import re

from mendflow.connectors.targeted import SEGMENT as _SEGMENT
from mendflow.connectors.targeted import TargetedRead, gone
from mendflow.models import Resource
from mendflow.providers.github.collector import PROTECTION, GithubCollector, _repo_summary, collaborator_resource
from mendflow.providers.github.installations import collect_installations, fetch_installation
from mendflow.providers.model import Reader
from mendflow.rules.demand import Demand


async def _gh_org(c: GithubCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
    data = await c.http.get_optional(m[0])
    return TargetedRead([Resource(type="github.org", id=m[0], data=data)]) if data else gone(m[0])


async def _gh_member(c: GithubCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
    org, login = m["org"], m["login"]
    membership = await c.http.get_optional(f"/orgs/{org}/memberships/{login}")
    if membership is None or membership.get("state") != "active":
        return gone(m[0])  # a pending invitation is not a member yet: full scans list active members only
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


async def _gh_outside(c: GithubCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
    org, login = m["org"], m["login"]
    outside = await c._optional_list(f"/orgs/{org}/outside_collaborators")
    if outside is None:
        return TargetedRead()  # a gap: nothing read, nothing covered
    user = next((u for u in outside if u["login"] == login), None)
    if user is None:
        return gone(m[0])
    no_2fa = await c._optional_list(f"/orgs/{org}/outside_collaborators", filter="2fa_disabled")
    related = {"two_factor_disabled": None if no_2fa is None else login in {u["login"] for u in no_2fa}}
    return TargetedRead([Resource(type="github.outside_collaborator", id=m[0], data=user, related=related)])


async def _gh_org_hooks(c: GithubCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
    hooks = await c._optional_list(m[0])
    if hooks is None:
        return TargetedRead()  # a gap: nothing read, nothing covered
    org = m["org"]
    return TargetedRead(
        [Resource(type="github.org_hook", id=f"/orgs/{org}/hooks/{h['id']}", data=h) for h in hooks], [m[0]]
    )


async def _gh_org_hook(c: GithubCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
    hook = await c.http.get_optional(m[0])
    return TargetedRead([Resource(type="github.org_hook", id=m[0], data=hook)]) if hook else gone(m[0])


async def _gh_repo(c: GithubCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
    repo = await c.http.get_optional(m[0])
    if repo is None:
        return gone(m[0])  # the repository and everything under it
    if demand is not None and not demand.needs("github.repo", PROTECTION, data=repo):
        return TargetedRead([Resource(type="github.repo", id=m[0], data=repo)])  # as a full scan, by demand
    related = await c._default_branch_facts(repo)
    return TargetedRead([Resource(type="github.repo", id=m[0], data=repo, related=related)])


_REPO_COLLECTIONS = {"hooks": "github.repo_hook", "keys": "github.deploy_key", "collaborators": "github.collaborator"}


async def _gh_repo_collection(c: GithubCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
    base, kind = m["repo"], m["kind"]
    repo = await c.http.get_optional(base)
    if repo is None:
        return gone(base)
    summary = _repo_summary(repo)
    if kind == "collaborators":
        items = await c._optional_list(m[0], affiliation="all")
        outside = await c._optional_list(f"/orgs/{c.org}/outside_collaborators") or []
        logins = {u["login"] for u in outside}
        resources = [collaborator_resource(repo, item, logins) for item in items or []]
    else:
        items = await c._optional_list(m[0])
        resources = [
            Resource(type=_REPO_COLLECTIONS[kind], id=f"{m[0]}/{item['id']}", data=item, related={"repo": summary})
            for item in items or []
        ]
    return TargetedRead(resources, [] if items is None else [m[0]])


async def _gh_installations(c: GithubCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
    found = await collect_installations(c.http, c.coverage, m["org"])
    return TargetedRead() if found is None else TargetedRead(found, [m[0]])  # None: a gap, nothing covered


async def _gh_installation(c: GithubCollector, m: re.Match[str], demand: Demand | None) -> TargetedRead:
    found = await fetch_installation(c.http, c.org, m[0])
    return TargetedRead([found]) if found is not None else gone(m[0])


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
    (re.compile(rf"{_ORG}/installations"), _gh_installations),
    (re.compile(r"/app/installations/\d+"), _gh_installation),
]
