"""GitHub App permissions as data (`name:level`, from GitHub's "Permissions required for GitHub Apps" page; `write`
includes `read`): what each endpoint the connector and the actions call needs, what each action needs, the small
reads `doctor` tries a personal access token with, and how an app's grant is read (GitHub's `Provider.permissions`).
"""

from __future__ import annotations

from mendflow.config import TenantConnection
from mendflow.connectors.credentials import Credential
from mendflow.connectors.http import VendorHttp
from mendflow.connectors.permissions import Need, Permissions, need, response_need
from mendflow.errors import MendflowError

NEEDS: tuple[Need, ...] = (
    need("GET", "/orgs/{org}", "organization_administration:read", "read org settings"),
    need("PATCH", "/orgs/{org}", "organization_administration:write", "change org settings"),
    need("GET", "/orgs/{org}/members", "members:read", "read org members"),
    need("GET", "/orgs/{org}/memberships/{username}", "members:read", "read org members"),
    need("GET", "/orgs/{org}/outside_collaborators", "members:read", "read outside collaborators"),
    need("GET", "/orgs/{org}/hooks", "organization_hooks:read", "read org webhooks"),
    need("GET", "/orgs/{org}/hooks/{hook_id}", "organization_hooks:read", "read org webhooks"),
    need("GET", "/orgs/{org}/hooks/{hook_id}/config", "organization_hooks:read", "read org webhooks"),
    need("PATCH", "/orgs/{org}/hooks/{hook_id}/config", "organization_hooks:write", "change org webhooks"),
    need("GET", "/orgs/{org}/repos", "metadata:read", "list repositories"),
    need("GET", "/repos/{owner}/{repo}", "metadata:read", "list repositories"),
    need("PATCH", "/repos/{owner}/{repo}", "administration:write", "change repository settings"),
    need("GET", "/repos/{owner}/{repo}/hooks", "repository_hooks:read", "read repository webhooks"),
    need("GET", "/repos/{owner}/{repo}/hooks/{hook_id}", "repository_hooks:read", "read repository webhooks"),
    need("GET", "/repos/{owner}/{repo}/hooks/{hook_id}/config", "repository_hooks:read", "read repository webhooks"),
    need(
        "PATCH", "/repos/{owner}/{repo}/hooks/{hook_id}/config", "repository_hooks:write", "change repository webhooks"
    ),
    need("GET", "/repos/{owner}/{repo}/keys", "administration:read", "read deploy keys"),
    need("GET", "/repos/{owner}/{repo}/collaborators", "metadata:read", "read repository collaborators"),
    need("GET", "/repos/{owner}/{repo}/branches/{branch}/protection", "administration:read", "read branch protection"),
    need("GET", "/repos/{owner}/{repo}/rulesets", "metadata:read", "read rulesets"),
    need("GET", "/repos/{owner}/{repo}/rulesets/{ruleset_id}", "metadata:read", "read rulesets"),
    need("GET", "/orgs/{org}/installations", "organization_administration:read", "read app installations"),
    response_need("PATCH", "/orgs/{org}/hooks/{hook_id}", "organization_hooks:write", "disable org webhooks"),
    response_need("DELETE", "/orgs/{org}/hooks/{hook_id}", "organization_hooks:write", "delete org webhooks"),
    response_need(
        "PATCH", "/repos/{owner}/{repo}/hooks/{hook_id}", "repository_hooks:write", "disable repository webhooks"
    ),
    response_need(
        "DELETE", "/repos/{owner}/{repo}/hooks/{hook_id}", "repository_hooks:write", "delete repository webhooks"
    ),
    response_need("GET", "/repos/{owner}/{repo}/keys/{key_id}", "administration:read", "read deploy keys"),
    response_need("DELETE", "/repos/{owner}/{repo}/keys/{key_id}", "administration:write", "remove deploy keys"),
    response_need("PUT", "/orgs/{org}/memberships/{username}", "members:write", "invite org members"),
    response_need("DELETE", "/orgs/{org}/memberships/{username}", "members:write", "remove org members"),
    response_need(
        "GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", "metadata:read", "read collaborator roles"
    ),
    response_need(
        "PUT", "/repos/{owner}/{repo}/collaborators/{username}", "administration:write", "change collaborators"
    ),
    response_need(
        "DELETE", "/repos/{owner}/{repo}/collaborators/{username}", "administration:write", "remove collaborators"
    ),
    response_need("GET", "/repos/{owner}/{repo}/invitations", "administration:read", "read pending invitations"),
)

ACTION_NEEDS: dict[str, str] = {
    "github.repo_hook.update_config": "repository_hooks:write",
    "github.org_hook.update_config": "organization_hooks:write",
    "github.repo.update_security": "administration:write",
    "github.repo.set_visibility": "administration:write",
    "github.org.update_settings": "organization_administration:write",
    "github.repo_hook.set_active": "repository_hooks:write",
    "github.org_hook.set_active": "organization_hooks:write",
    "github.repo_hook.rotate_secret": "repository_hooks:write",
    "github.org_hook.rotate_secret": "organization_hooks:write",
    "github.repo_hook.delete": "repository_hooks:write",
    "github.org_hook.delete": "organization_hooks:write",
    "github.deploy_key.delete": "administration:write",
    "github.org_membership.remove": "members:write",
    "github.repo_collaborator.set_permission": "administration:write",
}
"""The write permission each GitHub action needs (its reads are the scan's)."""

READ_PROBES: dict[str, str] = {
    "organization_administration:read": "/orgs/{org}",
    "members:read": "/orgs/{org}/members?per_page=1",
    "organization_hooks:read": "/orgs/{org}/hooks?per_page=1",
    "metadata:read": "/orgs/{org}/repos?per_page=1",
    "repository_hooks:read": "/repos/{repo}/hooks?per_page=1",
    "administration:read": "/repos/{repo}/keys?per_page=1",
}
"""One small read per permission, for a token whose permissions cannot be listed (GitHub answers `GET /orgs/{org}`
even without `organization_administration`, only with fewer fields)."""


def _implied(granted: str) -> str | None:
    """`x:write` also grants `x:read`."""
    return granted.removesuffix(":write") + ":read" if granted.endswith(":write") else None


async def _probe_values(http: VendorHttp, org: str) -> dict[str, str]:
    """One repository of the org, for the repository-level probes (none: those are not tried)."""
    try:
        listed = await http.get_json(f"/orgs/{org}/repos?per_page=1")
    except MendflowError:
        return {}
    return {"repo": listed[0]["full_name"]} if listed else {}


async def _granted(connection: TenantConnection, credential: Credential) -> frozenset[str] | None:
    """The installation token's permissions (narrowed ones if the tenant narrows them); None for a PAT."""
    from mendflow.providers.github.app_auth import GithubAppCredential

    if not isinstance(credential, GithubAppCredential):
        return None
    minted = await credential.current("GET", "/orgs")
    return frozenset(g.replace("=", ":") for g in minted.granted)


PERMISSIONS = Permissions(
    needs=NEEDS,
    actions=ACTION_NEEDS,
    implied=_implied,
    read_probes=READ_PROBES,
    probe_values=_probe_values,
    granted=_granted,
)
