"""The simulator's endpoints: one small handler per GitHub operation, and the route table that names them.

Handlers translate between HTTP (path, query, body) and `GithubState`; GitHub's shapes live in `github_shapes`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from mendflow.sim.common import RateBudget, int_param, json_response
from mendflow.sim.github_shapes import JSON, config_view, hook_view, not_found, public
from mendflow.sim.github_state import GithubState


@dataclass
class Sim:
    """What every handler may touch: the tenant state, the rate budget, and the serving settings."""

    state: GithubState
    budget: RateBudget
    per_page_default: int
    invitation_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class Call:
    """One request, reduced to what the handlers need."""

    request: Request
    body: JSON
    sim: Sim

    @property
    def base(self) -> str:
        return str(self.request.base_url).rstrip("/")

    def p(self, name: str) -> Any:
        return self.request.path_params[name]

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    def page(self, items: list[JSON], *, wrap: str | None = None) -> Response:
        """One page of `items` with GitHub's `Link` header (prev, next, last, first — where they apply); `wrap`
        names the key of the list when GitHub wraps it (`{"total_count": …, "installations": [...]}`)."""
        per_page = min(max(int_param(self.query.get("per_page"), self.sim.per_page_default), 1), 100)
        page = max(int_param(self.query.get("page"), 1), 1)
        last = max(1, -(-len(items) // per_page))
        links: list[str] = []
        if page > 1:
            links.append(self._link(page - 1, "prev"))
        if page < last:
            links += [self._link(page + 1, "next"), self._link(last, "last")]
        if page > 1:
            links.append(self._link(1, "first"))
        headers = {"link": ", ".join(links)} if links else None
        chunk = items[(page - 1) * per_page : page * per_page]
        return json_response(200, chunk if wrap is None else {"total_count": len(items), wrap: chunk}, headers)

    def _link(self, page: int, rel: str) -> str:
        # Under a path prefix (`sim.own_origin.PathPrefix`) the routed path lacks it; the link must not.
        url = self.request.url
        url = url.replace(path=self.request.scope.get("root_path", "") + url.path)
        return f'<{url.include_query_params(page=page)}>; rel="{rel}"'


Handler = Callable[[Call], Response]


# ---- organisation -------------------------------------------------------------------------------------------
def _org(c: Call) -> GithubState:
    c.sim.state.check_org(c.p("org"))
    return c.sim.state


def get_org(c: Call) -> Response:
    return json_response(200, public(_org(c).org))


def patch_org(c: Call) -> Response:
    return json_response(200, public(_org(c).update_org(c.body)))


def list_members(c: Call) -> Response:
    return c.page(_org(c).members_view(c.query.get("filter", "all"), c.query.get("role", "all")))


def check_member(c: Call) -> Response:
    if not _org(c).is_member(c.p("username")):
        raise not_found("User does not exist or is not a member of the organization")
    return json_response(204, None)


def list_outside(c: Call) -> Response:
    return c.page(_org(c).outside_view(c.query.get("filter", "all")))


def put_outside(c: Call) -> Response:
    _org(c).convert_to_outside(c.p("username"))
    return json_response(202, {}) if c.body.get("async") is True else json_response(204, None)


def delete_outside(c: Call) -> Response:
    _org(c).remove_outside(c.p("username"))
    return json_response(204, None)


def get_membership(c: Call) -> Response:
    return json_response(200, public(_org(c).membership(c.p("username"))))


def put_membership(c: Call) -> Response:
    found = _org(c).set_membership(c.p("username"), c.body.get("role", "member"))
    return json_response(200, public(found))


def delete_membership(c: Call) -> Response:
    _org(c).remove_membership(c.p("username"))
    return json_response(204, None)


def list_org_repos(c: Call) -> Response:
    repos = _org(c).repos
    kind = c.query.get("type", "all")
    if kind in ("public", "private"):
        repos = [r for r in repos if r.get("visibility", "private" if r.get("private") else "public") == kind]
    elif kind in ("forks", "sources"):
        repos = [r for r in repos if bool(r.get("fork")) == (kind == "forks")]
    sort = c.query.get("sort")
    fields = {"created": "created_at", "updated": "updated_at", "pushed": "pushed_at", "full_name": "full_name"}
    if sort in fields:
        # Without `sort` the tenant file's order is kept, so pagination is predictable.
        desc = c.query.get("direction", "asc" if sort == "full_name" else "desc") == "desc"
        repos = sorted(repos, key=lambda r: str(r.get(fields[sort]) or "").casefold(), reverse=desc)
    return c.page([public(r) for r in repos])


def list_installations(c: Call) -> Response:
    return c.page([public(i) for i in _org(c).installations], wrap="installations")


def get_rate_limit(c: Call) -> Response:
    core = c.sim.budget.snapshot()
    reset = int(c.sim.state.clock()) + 60
    search = {"limit": 30, "remaining": 30, "reset": reset, "used": 0}
    graphql = {"limit": c.sim.budget.limit, "remaining": c.sim.budget.limit, "reset": core["reset"], "used": 0}
    return json_response(200, {"resources": {"core": core, "search": search, "graphql": graphql}, "rate": core})


# ---- webhooks (organisation and repository) -------------------------------------------------------------
def _hooks(c: Call) -> tuple[list[JSON], str]:
    """The hook list a path addresses, and the API URL new hooks there get."""
    if "org" in c.request.path_params:
        state = _org(c)
        return state.hooks, f"{c.base}/orgs/{state.login}/hooks"
    repo = _repo(c)
    return repo["_hooks"], f"{c.base}/repos/{repo['full_name']}/hooks"


def list_hooks(c: Call) -> Response:
    return c.page([hook_view(h) for h in _hooks(c)[0]])


def create_hook(c: Call) -> Response:
    hooks, url = _hooks(c)
    hook = c.sim.state.create_hook(hooks, c.body, url=url, repo_hook="org" not in c.request.path_params)
    return json_response(201, hook_view(hook), {"location": hook["url"]})


def get_hook(c: Call) -> Response:
    return json_response(200, hook_view(c.sim.state.find(_hooks(c)[0], c.p("hook_id"))))


def patch_hook(c: Call) -> Response:
    hook = c.sim.state.find(_hooks(c)[0], c.p("hook_id"))
    return json_response(200, hook_view(c.sim.state.update_hook(hook, c.body)))


def delete_hook(c: Call) -> Response:
    c.sim.state.remove(_hooks(c)[0], c.p("hook_id"))
    return json_response(204, None)


def get_hook_config(c: Call) -> Response:
    return json_response(200, config_view(c.sim.state.find(_hooks(c)[0], c.p("hook_id")).get("config") or {}))


def patch_hook_config(c: Call) -> Response:
    hook = c.sim.state.find(_hooks(c)[0], c.p("hook_id"))
    return json_response(200, config_view(c.sim.state.update_hook_config(hook, c.body)))


# ---- repositories -------------------------------------------------------------------------------------------
def _repo(c: Call) -> JSON:
    return c.sim.state.repo(c.p("repo"), owner=c.p("owner"))


def get_repo(c: Call) -> Response:
    return json_response(200, public(_repo(c)))


def patch_repo(c: Call) -> Response:
    return json_response(200, public(c.sim.state.update_repo(_repo(c), c.body)))


def list_keys(c: Call) -> Response:
    return c.page([public(k) for k in _repo(c)["_keys"]])


def add_key(c: Call) -> Response:
    repo = _repo(c)
    key = c.sim.state.add_key(repo, c.body, url=f"{c.base}/repos/{repo['full_name']}/keys")
    return json_response(201, public(key), {"location": key["url"]})


def get_key(c: Call) -> Response:
    return json_response(200, public(c.sim.state.find(_repo(c)["_keys"], c.p("key_id"))))


def delete_key(c: Call) -> Response:
    c.sim.state.remove(_repo(c)["_keys"], c.p("key_id"))
    return json_response(204, None)


def get_branch(c: Call) -> Response:
    return json_response(200, c.sim.state.branch(_repo(c), c.p("branch"), api=c.base))


def get_protection(c: Call) -> Response:
    return json_response(200, public(c.sim.state.protection(_repo(c), c.p("branch"))))


def put_protection(c: Call) -> Response:
    repo = _repo(c)
    url = f"{c.base}/repos/{repo['full_name']}/branches/{c.p('branch')}/protection"
    return json_response(200, public(c.sim.state.set_protection(repo, c.p("branch"), c.body, url=url)))


def delete_protection(c: Call) -> Response:
    c.sim.state.delete_protection(_repo(c), c.p("branch"))
    return json_response(204, None)


def list_collaborators(c: Call) -> Response:
    affiliation, permission = c.query.get("affiliation", "all"), c.query.get("permission", "")
    return c.page(c.sim.state.collaborators_view(_repo(c), affiliation, permission))


def put_collaborator(c: Call) -> Response:
    repo, login = _repo(c), c.p("username")
    if not c.sim.state.set_collaborator(repo, login, str(c.body.get("permission", "push"))):
        return json_response(204, None)
    granted = c.sim.state.collaborator_permission(repo, login)
    stored = {"id": next(c.sim.invitation_ids), "invitee": login, "permissions": granted["role_name"],
              "created_at": c.sim.state.now()}  # fmt: skip
    return json_response(201, _invitation(c, repo, stored))


def _invitation(c: Call, repo: JSON, stored: JSON) -> JSON:
    """GitHub's repository-invitation object for a stored `{id, invitee, permissions, created_at}`."""
    invitation_id = stored["id"]
    return {
        "id": invitation_id, "node_id": f"RI_sim{invitation_id}", "repository": public(repo),
        "invitee": c.sim.state.user(str(stored["invitee"])), "inviter": None, "permissions": stored["permissions"],
        "created_at": stored.get("created_at") or c.sim.state.now(), "expired": False,
        "url": f"{c.base}/user/repository_invitations/{invitation_id}",
        "html_url": f"https://github.com/{repo['full_name']}/invitations",
    }  # fmt: skip


def list_invitations(c: Call) -> Response:
    """Open invitations: the simulator accepts its own at once, so only a tenant file's `_invitations` are open."""
    repo = _repo(c)
    return c.page([_invitation(c, repo, stored) for stored in repo.get("_invitations") or []])


def delete_collaborator(c: Call) -> Response:
    c.sim.state.remove_collaborator(_repo(c), c.p("username"))
    return json_response(204, None)


def get_collaborator_permission(c: Call) -> Response:
    return json_response(200, c.sim.state.collaborator_permission(_repo(c), c.p("username")))


def list_rulesets(c: Call) -> Response:
    # `includes_parents` is accepted and has nothing to add: tenant files hold repository rulesets only.
    return c.page(c.sim.state.rulesets_view(_repo(c), c.query.get("targets", "")))


def get_ruleset(c: Call) -> Response:
    return json_response(200, public(c.sim.state.find(_repo(c)["_rulesets"], c.p("ruleset_id"))))


_ORG, _REPO = "/orgs/{org}", "/repos/{owner}/{repo}"
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/rate_limit", get_rate_limit),
    ("GET", _ORG, get_org),
    ("PATCH", _ORG, patch_org),
    ("GET", f"{_ORG}/members", list_members),
    ("GET", f"{_ORG}/members/{{username}}", check_member),
    ("GET", f"{_ORG}/outside_collaborators", list_outside),
    ("PUT", f"{_ORG}/outside_collaborators/{{username}}", put_outside),
    ("DELETE", f"{_ORG}/outside_collaborators/{{username}}", delete_outside),
    ("GET", f"{_ORG}/memberships/{{username}}", get_membership),
    ("PUT", f"{_ORG}/memberships/{{username}}", put_membership),
    ("DELETE", f"{_ORG}/memberships/{{username}}", delete_membership),
    ("GET", f"{_ORG}/repos", list_org_repos),
    ("GET", f"{_ORG}/installations", list_installations),
    ("GET", _REPO, get_repo),
    ("PATCH", _REPO, patch_repo),
    ("GET", f"{_REPO}/keys", list_keys),
    ("POST", f"{_REPO}/keys", add_key),
    ("GET", f"{_REPO}/keys/{{key_id:int}}", get_key),
    ("DELETE", f"{_REPO}/keys/{{key_id:int}}", delete_key),
    # Branch names may contain slashes, so the protection routes come before the plain branch route.
    ("GET", f"{_REPO}/branches/{{branch:path}}/protection", get_protection),
    ("PUT", f"{_REPO}/branches/{{branch:path}}/protection", put_protection),
    ("DELETE", f"{_REPO}/branches/{{branch:path}}/protection", delete_protection),
    ("GET", f"{_REPO}/branches/{{branch:path}}", get_branch),
    ("GET", f"{_REPO}/collaborators", list_collaborators),
    ("PUT", f"{_REPO}/collaborators/{{username}}", put_collaborator),
    ("DELETE", f"{_REPO}/collaborators/{{username}}", delete_collaborator),
    ("GET", f"{_REPO}/collaborators/{{username}}/permission", get_collaborator_permission),
    ("GET", f"{_REPO}/invitations", list_invitations),
    ("GET", f"{_REPO}/rulesets", list_rulesets),
    ("GET", f"{_REPO}/rulesets/{{ruleset_id:int}}", get_ruleset),
]
for _base in (_ORG, _REPO):
    ROUTES += [
        ("GET", f"{_base}/hooks", list_hooks),
        ("POST", f"{_base}/hooks", create_hook),
        ("GET", f"{_base}/hooks/{{hook_id:int}}", get_hook),
        ("PATCH", f"{_base}/hooks/{{hook_id:int}}", patch_hook),
        ("DELETE", f"{_base}/hooks/{{hook_id:int}}", delete_hook),
        ("GET", f"{_base}/hooks/{{hook_id:int}}/config", get_hook_config),
        ("PATCH", f"{_base}/hooks/{{hook_id:int}}/config", patch_hook_config),
    ]
