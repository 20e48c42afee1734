"""Playbook test cases as data: a small tenant, and the findings and plan the playbook must produce on it.

A case lists resources of the playbook's type as the condition sees them (`id`, `data`, `related`), or names a
tenant file. Resources are turned into a mendflow.tenant/v1 tenant (the org, parent repositories, the lists the
connector derives `related` facts from), which then goes through the same path as `mendflow plan`: simulator,
production connector, rule engine, the action's read of the current values. So a case tests the playbook against
the vendor's real shapes, not against a hand-made evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mendflow import providers
from mendflow.errors import MendflowError
from mendflow.playbooks.documents import merged
from mendflow.playbooks.model import FragmentResource, ParamError, Playbook, PlaybookTest
from mendflow.playbooks.plan import PlaybookPlan, plan_tenant
from mendflow.providers.github.installations import org_account
from mendflow.render import diff
from mendflow.tenant import TENANT_FORMAT, TenantFile, load_tenant_file, parse_tenant

JSON = dict[str, Any]


@dataclass
class CaseResult:
    """How one test case went."""

    playbook_id: str
    name: str
    problems: list[str] = field(default_factory=list)
    """Each difference from the expectation, in a sentence; empty when the case passed."""
    plan: PlaybookPlan | None = None

    @property
    def passed(self) -> bool:
        return not self.problems


def run_playbook_tests(playbooks: Iterable[Playbook]) -> list[CaseResult]:
    """Run every test case of every playbook, in order."""
    return [run_case(playbook, case) for playbook in playbooks for case in playbook.tests]


def run_case(playbook: Playbook, case: PlaybookTest) -> CaseResult:
    """Build the case's tenant, plan the playbook on it, compare with the expectation."""
    result = CaseResult(playbook.id, case.name)
    try:
        tenant = tenant_for_case(playbook, case)
        provider = playbook.resource.split(".", 1)[0]
        if tenant.provider != provider:
            raise MendflowError(
                f"the tenant is a {tenant.provider} tenant, but the playbook acts on {playbook.resource}"
            )
        bound = playbook.with_params(case.params) if case.params else playbook
        plan = plan_tenant(tenant, [bound], as_of=case.as_of).playbooks[0]
    except (MendflowError, ParamError) as err:
        result.problems.append(f"cannot run: {err}")
        return result
    result.plan = plan
    expect = case.expect
    _compare(result.problems, "findings", set(expect.findings), {f.resource.id for f in plan.findings})
    _compare(result.problems, "evaluation errors", set(expect.errors), {e.resource_id for e in plan.errors})
    for error in plan.errors:
        if error.resource_id not in expect.errors:
            result.problems.append(f"  {error.resource_id}: {error.message}")
    if expect.plan is not None:
        planned = {c.resource.id: c for c in plan.changes}
        _compare(result.problems, "planned resources", set(expect.plan), set(planned))
        for resource_id, wanted in expect.plan.items():
            got = planned.get(resource_id)
            if got is not None and (got.before, got.after) != (wanted.before, wanted.after):
                expected, actual = diff(wanted.before, wanted.after), diff(got.before, got.after)
                note = f" ({got.note})" if got.note else ""
                result.problems.append(f"plan for {resource_id}: expected {expected}, got {actual}{note}")
    return result


def _compare(problems: list[str], what: str, expected: set[str], got: set[str]) -> None:
    if expected == got:
        return
    missing, extra = sorted(expected - got), sorted(got - expected)
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
        [f"unexpected {', '.join(extra)}"] if extra else []
    )
    problems.append(f"{what}: {'; '.join(parts)}")


def tenant_for_case(playbook: Playbook, case: PlaybookTest) -> TenantFile:
    """The tenant a case describes: its tenant file, or one built around its resources."""
    if case.tenant_file is not None:
        base = case.source.parent if case.source is not None else Path.cwd()
        return load_tenant_file(base / case.tenant_file)
    provider = providers.provider_of(playbook.resource)
    as_of = (case.as_of or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    source = f"{case.source or playbook.id}: test {case.name!r}"
    if provider.case_tenant is None:
        raise MendflowError(f"test cases with 'resources' are not supported for {provider.name}; use 'tenant_file'")
    tenant, section = provider.case_tenant(playbook.resource, as_of, case.resources)
    document = {"format": TENANT_FORMAT, "provider": provider.name, "tenant": tenant, "taken_at": as_of.isoformat()}
    return parse_tenant({**document, provider.name: section}, source=source)


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
