"""GitHub: an organization's settings, members, webhooks and repositories, as one provider.

The connector (`collector`, `app_auth`, `actions`, `response_actions`, `targets`), the tenant-file section
(`tenant_section`) and this declaration; the simulator lives in `mendflow.sim.github` and is imported only when
`PROVIDER.simulator` is called. Registered in `mendflow.providers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from mendflow.providers.model import JSON, Provider, SpecSubset, Streamed, lazy, lazy_call

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from mendflow.config import TenantConnection
    from mendflow.connectors.credentials import Credential
    from mendflow.playbooks.model import FragmentResource
    from mendflow.tenant import TenantFile

RESOURCE_TYPES: dict[str, str] = {
    "github.org": "/orgs/{org}",
    "github.member": "/orgs/{org}/memberships/{login}",
    "github.outside_collaborator": "/orgs/{org}/outside_collaborators/{login}",
    "github.org_hook": "/orgs/{org}/hooks/{id}",
    "github.repo": "/repos/{owner}/{repo}",
    "github.repo_hook": "/repos/{owner}/{repo}/hooks/{id}",
    "github.deploy_key": "/repos/{owner}/{repo}/keys/{id}",
    "github.collaborator": "/repos/{owner}/{repo}/collaborators/{login}",
    "github.app_installation": "/app/installations/{id}",
}
"""Resource type → the canonical path of its ids (tenant format v1: the vendor's own API path)."""
ORG_LEVEL = frozenset(
    {"github.org", "github.member", "github.outside_collaborator", "github.org_hook", "github.app_installation"}
)
"""Resource types outside repositories: served with every chunk of a big tenant file."""


def _app_credential(connection: TenantConnection) -> Credential:
    from mendflow.providers.github.app_auth import GithubAppCredential
    from mendflow.providers.github.auth_config import GithubAppAuth

    assert isinstance(connection.auth, GithubAppAuth)  # config.py checks the kind against the provider
    return GithubAppCredential(
        connection.auth, tenant=connection.key, org=connection.tenant, base_url=connection.base_url
    )


def _owns(org: str, target: str) -> bool:
    """A GitHub delivery names repositories by full name; a signed delivery for one tenant must never make its
    token read (and its ledger record) another organization."""
    parts = target.strip("/").split("/")
    if parts[:2] == ["app", "installations"]:
        return True  # named without an org, but read from the tenant's own org listing: nothing else is reachable
    return len(parts) >= 2 and parts[0] in ("orgs", "repos") and parts[1].casefold() == org.casefold()


def _case_tenant(resource_type: str, as_of: datetime, resources: Sequence[FragmentResource]) -> tuple[str, JSON]:
    from mendflow.providers.github.cases import GithubCaseTenant

    builder = GithubCaseTenant(as_of)
    for resource in resources:
        builder.add(resource_type, resource)
    document = builder.document()
    return document["tenant"], document["github"]


def _simulator(tenant: TenantFile, token: str) -> Starlette:
    from mendflow.sim.github import create_github_app

    return create_github_app(tenant, token=token)


PROVIDER = Provider(
    name="github",
    title="GitHub",
    resource_types=RESOURCE_TYPES,
    default_base_url=lambda tenant: "https://api.github.com",
    concurrency_cap=100,  # GitHub's secondary rate limit: 100 concurrent requests
    token_schemes=("Bearer",),
    credential_name="personal access token",
    app_auth_kind="github_app",
    probe="/orgs/{tenant}",
    expiry_header="github-authentication-token-expiration",
    permissions=lazy("mendflow.providers.github.permissions", "PERMISSIONS"),
    http=lazy_call("mendflow.providers.github.collector", "github_http"),
    collector=lazy_call("mendflow.providers.github.collector", "GithubCollector"),
    app_auth_model=lazy("mendflow.providers.github.auth_config", "GithubAppAuth"),
    app_credential=_app_credential,
    actions=lazy("mendflow.providers.github.actions", "GITHUB_ACTIONS"),
    targets=lazy("mendflow.providers.github.targets", "GITHUB_TARGETS"),
    owns=_owns,
    tenant_section=lazy("mendflow.providers.github.tenant_section", "GithubSection"),
    streamed=Streamed(
        collection="repos", item=lazy("mendflow.providers.github.tenant_section", "GithubRepo"), repeated=ORG_LEVEL
    ),
    objects=lazy_call("mendflow.providers.github.tenant_section", "objects"),
    case_tenant=_case_tenant,
    webhooks=lazy("mendflow.providers.github.webhooks", "ENDPOINT"),
    simulator=_simulator,
    spec=SpecSubset(
        file="github-subset.json",
        licence="github-subset.LICENSE.txt",
        types=lazy("mendflow.providers.github.schema_types", "TYPES"),
    ),
    schema="mendflow.data:schemas/github.json",
)
