"""A GitHub tenant built from a test case's resources, so GitHub playbooks are tested as data (GitHub's
`Provider.case_tenant`).

Each resource id names the org and the parents the resource needs (a hook's repository); the builder fills in the
fields the tenant format and the simulator need and turns `related` facts back into what the connector derives
them from (a member's role into its membership, a collaborator's `outside` into the outside-collaborator list).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mendflow.errors import MendflowError
from mendflow.playbooks.documents import merged
from mendflow.playbooks.model import FragmentResource
from mendflow.providers.github.installations import org_account
from mendflow.tenant import TENANT_FORMAT

JSON = dict[str, Any]


class GithubCaseTenant:
    """A GitHub section built from resources (GitHub's `Provider.case_tenant`); each id names the org and the
    parents the resource needs."""

    def __init__(self, as_of: datetime) -> None:
        self.when = as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.login: str | None = None
        self.org: JSON = {}
        self.members: list[JSON] = []
        self.members_2fa_disabled: list[str] = []
        self.memberships: dict[str, JSON] = {}
        self.outside: list[JSON] = []
        self.outside_2fa_disabled: list[str] = []
        self.hooks: list[JSON] = []
        self.repos: dict[str, JSON] = {}
        self.installations: list[JSON] = []

    def add(self, resource_type: str, resource: FragmentResource) -> None:
        parts = resource.id.strip("/").split("/")
        if resource_type == "github.app_installation":  # `/app/installations/{id}` names no org: the case's one
            self._org(self.login or "acme")
            self._add_installation(parts, resource)
            return
        self._org(parts[1])
        adders: dict[str, Callable[[list[str], FragmentResource], None]] = {
            "github.org": self._add_org,
            "github.member": self._add_member,
            "github.outside_collaborator": self._add_outside,
            "github.org_hook": self._add_org_hook,
            "github.repo": self._add_repo,
            "github.repo_hook": self._add_repo_hook,
            "github.deploy_key": self._add_key,
            "github.collaborator": self._add_collaborator,
        }
        if resource_type not in adders:
            raise MendflowError(f"no tenant builder for {resource_type}; use 'tenant_file'")
        adders[resource_type](parts, resource)

    def document(self) -> JSON:
        return {
            "format": TENANT_FORMAT,
            "provider": "github",
            "tenant": self.login or "acme",
            "taken_at": self.when,
            "github": {
                "org": self.org or self._org_defaults(self.login or "acme"),
                "members": self.members,
                "members_2fa_disabled": self.members_2fa_disabled,
                "memberships": self.memberships,
                "outside_collaborators": self.outside,
                "outside_collaborators_2fa_disabled": self.outside_2fa_disabled,
                "hooks": self.hooks,
                "repos": list(self.repos.values()),
                "installations": self.installations,
            },
        }

    # ---- the org and people ------------------------------------------------------------------------------------
    def _org(self, login: str) -> None:
        if self.login is None:
            self.login = login
            self.org = self._org_defaults(login)
        elif login != self.login:
            raise MendflowError(f"a test case holds one organization: {login!r} is not {self.login!r}")

    def _org_defaults(self, login: str) -> JSON:
        return {
            "login": login, "id": 1, "node_id": "O_sim1", "url": f"https://api.github.com/orgs/{login}",
            "type": "Organization", "html_url": f"https://github.com/{login}",
            "created_at": self.when, "updated_at": self.when,
        }  # fmt: skip

    def _add_org(self, parts: list[str], resource: FragmentResource) -> None:
        self.org = merged(self.org, {**resource.data, "login": parts[1]})

    def _user(self, login: str, data: JSON) -> JSON:
        uid = 1000 + len(self.members) + len(self.outside) + sum(len(r["_collaborators"]) for r in self.repos.values())
        defaults = {
            "login": login, "id": uid, "node_id": f"U_sim{uid}", "type": "User", "site_admin": False,
            "url": f"https://api.github.com/users/{login}", "html_url": f"https://github.com/{login}",
        }  # fmt: skip
        return merged(defaults, {**data, "login": login})

    def _add_member(self, parts: list[str], resource: FragmentResource) -> None:
        login = parts[3]
        user = self._user(login, resource.data)
        self.members.append(user)
        if resource.related.get("two_factor_disabled") is True:
            self.members_2fa_disabled.append(login)
        membership = resource.related.get("membership") or {}
        self.memberships[login] = {
            "state": membership.get("state", "active"),
            "role": membership.get("role", "member"),
            "url": f"https://api.github.com/orgs/{self.login}/memberships/{login}",
            "user": user,
        }

    def _add_outside(self, parts: list[str], resource: FragmentResource) -> None:
        login = parts[3]
        self.outside.append(self._user(login, resource.data))
        if resource.related.get("two_factor_disabled") is True:
            self.outside_2fa_disabled.append(login)

    def _hook(self, hook_id: int, url: str, data: JSON, *, repo_hook: bool) -> JSON:
        defaults: JSON = {
            "type": "Repository" if repo_hook else "Organization", "id": hook_id, "name": "web", "active": True,
            "events": ["push"], "config": {"url": "https://hooks.example.com/github", "content_type": "json",
            "insecure_ssl": "0"}, "created_at": self.when, "updated_at": self.when, "url": url,
            "ping_url": f"{url}/pings", "deliveries_url": f"{url}/deliveries",
        }  # fmt: skip
        return merged(defaults, {**data, "id": hook_id})

    def _add_org_hook(self, parts: list[str], resource: FragmentResource) -> None:
        hook_id = _number(parts[3], resource.id)
        url = f"https://api.github.com/orgs/{self.login}/hooks/{hook_id}"
        self.hooks.append(self._hook(hook_id, url, resource.data, repo_hook=False))

    def _add_installation(self, parts: list[str], resource: FragmentResource) -> None:
        number = _number(parts[-1], resource.id)
        login = self.login or "acme"
        defaults = {
            "id": number, "app_id": 100 + number, "app_slug": f"app-{number}", "client_id": f"Iv1.sim{number:08d}",
            "target_id": self.org.get("id", 1), "target_type": "Organization", "repository_selection": "selected",
            "account": org_account(login, self.org.get("id", 1)),
            "access_tokens_url": f"https://api.github.com/app/installations/{number}/access_tokens",
            "repositories_url": "https://api.github.com/installation/repositories",
            "html_url": f"https://github.com/organizations/{login}/settings/installations/{number}",
            "permissions": {"metadata": "read"}, "events": [], "created_at": self.when, "updated_at": self.when,
            "single_file_name": None, "suspended_by": None, "suspended_at": None,
        }  # fmt: skip
        # `permissions` is replaced, not merged: a case lists exactly what the app may do
        given = resource.data
        installation = merged(defaults, {k: v for k, v in given.items() if k != "permissions"})
        if "permissions" in given:
            installation["permissions"] = given["permissions"]
        self.installations.append({**installation, "id": number})

    # ---- repositories --------------------------------------------------------------------------------------
    def _repo(self, name: str, data: JSON | None = None) -> JSON:
        """The repository `name` (made on first use); `data` is merged into it."""
        if name not in self.repos:
            full = f"{self.login}/{name}"
            self.repos[name] = {
                "id": 100 + len(self.repos), "node_id": f"R_sim{len(self.repos)}", "name": name, "full_name": full,
                "owner": {"login": self.login, "type": "Organization"}, "private": True, "visibility": "private",
                "archived": False, "disabled": False, "fork": False, "default_branch": "main",
                "html_url": f"https://github.com/{full}", "url": f"https://api.github.com/repos/{full}",
                "created_at": self.when, "updated_at": self.when, "pushed_at": self.when,
                "_hooks": [], "_keys": [], "_collaborators": [], "_branch_protection": {}, "_rulesets": [],
            }  # fmt: skip
        repo = self.repos[name]
        given = dict(data or {})
        if "private" in given and "visibility" not in given:
            given["visibility"] = "private" if given["private"] else "public"
        elif "visibility" in given and "private" not in given:
            given["private"] = given["visibility"] != "public"
        for key, value in merged({k: v for k, v in repo.items() if not k.startswith("_")}, given).items():
            repo[key] = value
        repo["name"], repo["full_name"] = name, f"{self.login}/{name}"
        return repo

    def _add_repo(self, parts: list[str], resource: FragmentResource) -> None:
        repo = self._repo(parts[2], resource.data)
        protection = resource.related.get("default_branch_protection")
        if isinstance(protection, dict):
            repo["_branch_protection"][repo.get("default_branch") or "main"] = protection
        for number, ruleset in enumerate(resource.related.get("default_branch_rulesets") or []):
            defaults = {
                "id": number + 1, "name": f"ruleset-{number + 1}", "target": "branch", "source_type": "Repository",
                "source": repo["full_name"], "enforcement": "active", "rules": [],
                "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
            }  # fmt: skip
            repo["_rulesets"].append(merged(defaults, ruleset))

    def _parent(self, name: str, resource: FragmentResource) -> JSON:
        """The resource's repository; `related.repo` (name, private, visibility, archived) describes it."""
        summary = resource.related.get("repo") or {}
        return self._repo(name, {k: v for k, v in summary.items() if k in ("private", "visibility", "archived")})

    def _add_repo_hook(self, parts: list[str], resource: FragmentResource) -> None:
        repo = self._parent(parts[2], resource)
        hook_id = _number(parts[4], resource.id)
        url = f"https://api.github.com/repos/{repo['full_name']}/hooks/{hook_id}"
        repo["_hooks"].append(self._hook(hook_id, url, resource.data, repo_hook=True))

    def _add_key(self, parts: list[str], resource: FragmentResource) -> None:
        repo = self._parent(parts[2], resource)
        key_id = _number(parts[4], resource.id)
        defaults = {
            "id": key_id, "key": f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIsim{key_id:08d}", "title": f"key {key_id}",
            "url": f"https://api.github.com/repos/{repo['full_name']}/keys/{key_id}", "verified": True,
            "created_at": self.when, "read_only": True, "added_by": None, "last_used": None, "enabled": True,
        }  # fmt: skip
        repo["_keys"].append(merged(defaults, {**resource.data, "id": key_id}))

    def _add_collaborator(self, parts: list[str], resource: FragmentResource) -> None:
        repo = self._parent(parts[2], resource)
        login = parts[4]
        read = {"pull": True, "triage": False, "push": False, "maintain": False, "admin": False}
        user = self._user(login, {"permissions": read, "role_name": "read", **resource.data})
        repo["_collaborators"].append(user)
        known = {u["login"] for u in (*self.members, *self.outside)}
        if login not in known:
            if resource.related.get("outside") is True:
                self.outside.append(self._user(login, {}))
            else:
                self.members.append(self._user(login, {}))


def _number(text: str, resource_id: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise MendflowError(f"{resource_id}: the last part of the id must be a number") from None
