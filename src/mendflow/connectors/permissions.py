"""Permissions as data: the vendor permission (GitHub App) or OAuth scope (Okta) each endpoint and action needs.

GitHub permissions are written `name:level` (`members:read`; `write` includes `read`), from GitHub's
"Permissions required for GitHub Apps" page. Okta scopes are the `oauth2` security requirement of each operation
in Okta's Management API description (`tests/connectors/test_permissions.py` checks them against
`tests/specs/okta-subset.normalized.json`). `needed(provider, method, path)` maps a concrete request to its need;
`doctor` compares what the loaded playbooks need with what the credential was granted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Need:
    """One endpoint's requirement."""

    method: str
    template: str
    permission: str
    capability: str
    """What the permission buys, in words a reviewer reads (`read org members`)."""
    scan: bool = True
    """A read the scan makes (False: only response workflows read it, e.g. the System Log), so `doctor` and the
    scopes a scan asks for leave it out."""


def _g(method: str, template: str, permission: str, capability: str) -> Need:
    return Need(method, template, permission, capability)


def _r(method: str, template: str, permission: str, capability: str) -> Need:
    """An endpoint only response workflows call (their reads and writes; never the scan's)."""
    return Need(method, template, permission, capability, scan=False)


GITHUB_NEEDS: tuple[Need, ...] = (
    _g("GET", "/orgs/{org}", "organization_administration:read", "read org settings"),
    _g("PATCH", "/orgs/{org}", "organization_administration:write", "change org settings"),
    _g("GET", "/orgs/{org}/members", "members:read", "read org members"),
    _g("GET", "/orgs/{org}/memberships/{username}", "members:read", "read org members"),
    _g("GET", "/orgs/{org}/outside_collaborators", "members:read", "read outside collaborators"),
    _g("GET", "/orgs/{org}/hooks", "organization_hooks:read", "read org webhooks"),
    _g("GET", "/orgs/{org}/hooks/{hook_id}", "organization_hooks:read", "read org webhooks"),
    _g("GET", "/orgs/{org}/hooks/{hook_id}/config", "organization_hooks:read", "read org webhooks"),
    _g("PATCH", "/orgs/{org}/hooks/{hook_id}/config", "organization_hooks:write", "change org webhooks"),
    _g("GET", "/orgs/{org}/repos", "metadata:read", "list repositories"),
    _g("GET", "/repos/{owner}/{repo}", "metadata:read", "list repositories"),
    _g("PATCH", "/repos/{owner}/{repo}", "administration:write", "change repository settings"),
    _g("GET", "/repos/{owner}/{repo}/hooks", "repository_hooks:read", "read repository webhooks"),
    _g("GET", "/repos/{owner}/{repo}/hooks/{hook_id}", "repository_hooks:read", "read repository webhooks"),
    _g("GET", "/repos/{owner}/{repo}/hooks/{hook_id}/config", "repository_hooks:read", "read repository webhooks"),
    _g("PATCH", "/repos/{owner}/{repo}/hooks/{hook_id}/config", "repository_hooks:write", "change repository webhooks"),
    _g("GET", "/repos/{owner}/{repo}/keys", "administration:read", "read deploy keys"),
    _g("GET", "/repos/{owner}/{repo}/collaborators", "metadata:read", "read repository collaborators"),
    _g("GET", "/repos/{owner}/{repo}/branches/{branch}/protection", "administration:read", "read branch protection"),
    _g("GET", "/repos/{owner}/{repo}/rulesets", "metadata:read", "read rulesets"),
    _g("GET", "/repos/{owner}/{repo}/rulesets/{ruleset_id}", "metadata:read", "read rulesets"),
    _g("GET", "/orgs/{org}/installations", "organization_administration:read", "read app installations"),
    _r("PATCH", "/orgs/{org}/hooks/{hook_id}", "organization_hooks:write", "disable org webhooks"),
    _r("DELETE", "/orgs/{org}/hooks/{hook_id}", "organization_hooks:write", "delete org webhooks"),
    _r("PATCH", "/repos/{owner}/{repo}/hooks/{hook_id}", "repository_hooks:write", "disable repository webhooks"),
    _r("DELETE", "/repos/{owner}/{repo}/hooks/{hook_id}", "repository_hooks:write", "delete repository webhooks"),
    _r("GET", "/repos/{owner}/{repo}/keys/{key_id}", "administration:read", "read deploy keys"),
    _r("DELETE", "/repos/{owner}/{repo}/keys/{key_id}", "administration:write", "remove deploy keys"),
    _r("PUT", "/orgs/{org}/memberships/{username}", "members:write", "invite org members"),
    _r("DELETE", "/orgs/{org}/memberships/{username}", "members:write", "remove org members"),
    _r("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", "metadata:read", "read collaborator roles"),
    _r("PUT", "/repos/{owner}/{repo}/collaborators/{username}", "administration:write", "change collaborators"),
    _r("DELETE", "/repos/{owner}/{repo}/collaborators/{username}", "administration:write", "remove collaborators"),
    _r("GET", "/repos/{owner}/{repo}/invitations", "administration:read", "read pending invitations"),
)

OKTA_NEEDS: tuple[Need, ...] = (
    _g("GET", "/api/v1/users", "okta.users.read", "read users"),
    _g("GET", "/api/v1/users/{id}", "okta.users.read", "read users"),
    _g("GET", "/api/v1/users/{id}/factors", "okta.users.read", "read users' MFA factors"),
    _g("POST", "/api/v1/users/{id}/lifecycle/suspend", "okta.users.manage", "suspend users"),
    _g("POST", "/api/v1/users/{id}/lifecycle/unsuspend", "okta.users.manage", "suspend users"),
    _g("GET", "/api/v1/users/{id}/roles", "okta.roles.read", "read admin role assignments"),
    _g("GET", "/api/v1/iam/assignees/users", "okta.roles.read", "read admin role assignments"),
    _g("GET", "/api/v1/policies", "okta.policies.read", "read policies"),
    _g("GET", "/api/v1/policies/{id}", "okta.policies.read", "read policies"),
    _g("PUT", "/api/v1/policies/{id}", "okta.policies.manage", "change policies"),
    _g("GET", "/api/v1/policies/{id}/rules", "okta.policies.read", "read policies"),
    _g("GET", "/api/v1/policies/{id}/rules/{rule_id}", "okta.policies.read", "read policies"),
    _g("PUT", "/api/v1/policies/{id}/rules/{rule_id}", "okta.policies.manage", "change policies"),
    _g("GET", "/api/v1/api-tokens", "okta.apiTokens.read", "read API tokens"),
    _g("GET", "/api/v1/api-tokens/{id}", "okta.apiTokens.read", "read API tokens"),
    _g("DELETE", "/api/v1/api-tokens/{id}", "okta.apiTokens.manage", "revoke API tokens"),
    _g("GET", "/api/v1/apps", "okta.apps.read", "read apps"),
    _g("GET", "/api/v1/groups", "okta.groups.read", "read groups"),
    _g("GET", "/api/v1/apps/{appId}/grants", "okta.appGrants.read", "read OAuth apps' scope grants"),
    _g("GET", "/api/v1/apps/{appId}/grants/{grantId}", "okta.appGrants.read", "read OAuth apps' scope grants"),
    _g("DELETE", "/api/v1/apps/{appId}/grants/{grantId}", "okta.appGrants.manage", "revoke OAuth scope grants"),
    _r("DELETE", "/api/v1/users/{userId}/sessions", "okta.users.manage", "clear users' sessions"),
    _r("DELETE", "/api/v1/users/{userId}/grants", "okta.users.manage", "revoke users' OAuth grants"),
    _r("GET", "/api/v1/users/{userId}/clients", "okta.users.read", "read users' OAuth clients"),
    _r("GET", "/api/v1/users/{userId}/clients/{clientId}/tokens", "okta.users.read", "read users' refresh tokens"),
    _r("DELETE", "/api/v1/users/{userId}/clients/{clientId}/tokens", "okta.users.manage", "revoke refresh tokens"),
    _r("GET", "/api/v1/users/{id}/groups", "okta.users.read", "read group memberships"),
    _r("PUT", "/api/v1/groups/{groupId}/users/{userId}", "okta.groups.manage", "change group memberships"),
    _r("DELETE", "/api/v1/groups/{groupId}/users/{userId}", "okta.groups.manage", "change group memberships"),
    _r("POST", "/api/v1/users/{userId}/roles", "okta.roles.manage", "assign admin roles"),
    _r("DELETE", "/api/v1/users/{userId}/roles/{roleAssignmentId}", "okta.roles.manage", "unassign admin roles"),
    _r("GET", "/api/v1/apps/{appId}", "okta.apps.read", "read apps"),
    _r("POST", "/api/v1/apps/{appId}/lifecycle/activate", "okta.apps.manage", "activate and deactivate apps"),
    _r("POST", "/api/v1/apps/{appId}/lifecycle/deactivate", "okta.apps.manage", "activate and deactivate apps"),
    _r("GET", "/api/v1/logs", "okta.logs.read", "read the System Log"),
)

NEEDS: dict[str, tuple[Need, ...]] = {"github": GITHUB_NEEDS, "okta": OKTA_NEEDS}

ACTION_NEEDS: dict[str, str] = {
    "github.repo_hook.update_config": "repository_hooks:write",
    "github.org_hook.update_config": "organization_hooks:write",
    "github.repo.update_security": "administration:write",
    "github.repo.set_visibility": "administration:write",
    "github.org.update_settings": "organization_administration:write",
    "okta.user.set_status": "okta.users.manage",
    "okta.policy_rule.update": "okta.policies.manage",
    "okta.policy.update_password": "okta.policies.manage",
    "okta.api_token.revoke": "okta.apiTokens.manage",
    "okta.oauth_grant.revoke": "okta.appGrants.manage",
    "github.repo_hook.set_active": "repository_hooks:write",
    "github.org_hook.set_active": "organization_hooks:write",
    "github.repo_hook.rotate_secret": "repository_hooks:write",
    "github.org_hook.rotate_secret": "organization_hooks:write",
    "github.repo_hook.delete": "repository_hooks:write",
    "github.org_hook.delete": "organization_hooks:write",
    "github.deploy_key.delete": "administration:write",
    "github.org_membership.remove": "members:write",
    "github.repo_collaborator.set_permission": "administration:write",
    "okta.user.clear_sessions": "okta.users.manage",
    "okta.user.revoke_grants": "okta.users.manage",
    "okta.group_membership.set": "okta.groups.manage",
    "okta.role_assignment.unassign": "okta.roles.manage",
    "okta.app.set_status": "okta.apps.manage",
}
"""The write permission each catalogued action needs (its reads are the scan's)."""

OKTA_READ_SCOPES: tuple[str, ...] = tuple(sorted({n.permission for n in OKTA_NEEDS if n.method == "GET" and n.scan}))


def scan_needs(provider: str) -> list[Need]:
    """What a scan of `provider` reads (every GET the collector makes)."""
    return [n for n in NEEDS.get(provider, ()) if n.method == "GET" and n.scan]


@cache
def _patterns(provider: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    return tuple(
        (n.method, re.compile(re.sub(r"\{[^}]+\}", "[^/]+", n.template)), n.permission) for n in NEEDS.get(provider, ())
    )


def needed(provider: str, method: str, path: str) -> str | None:
    """The permission a concrete request needs (None: not in the table, e.g. `/rate_limit`)."""
    provider = provider.lower()
    for want, pattern, permission in _patterns(provider):
        if want == method.upper() and pattern.fullmatch(path.split("?")[0]):
            return permission
    return None


def satisfied(provider: str, need: str, granted: Iterable[str]) -> bool:
    """Is `need` covered by `granted`? GitHub `x:write` covers `x:read`; Okta scopes must match exactly."""
    held = set(granted)
    if need in held:
        return True
    if provider == "github" and need.endswith(":read"):
        return need.removesuffix(":read") + ":write" in held
    return False
