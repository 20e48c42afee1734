"""GitHub: an organization's settings, members, webhooks and repositories, as one provider.

The connector (`collector`, `app_auth`, `actions`, `response_actions`, `targets`), the tenant-file section
(`tenant_section`) and this declaration; the simulator lives in `mendflow.sim.github` and is imported only when
`PROVIDER.simulator` is called. Registered in `mendflow.providers`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mendflow.providers.model import JSON, Provider, Reader, SpecSubset, Streamed

if TYPE_CHECKING:
    from pydantic import BaseModel
    from starlette.applications import Starlette

    from mendflow.config import TenantConnection
    from mendflow.connectors.actions import FieldAction
    from mendflow.connectors.credentials import Credential
    from mendflow.connectors.http import VendorHttp
    from mendflow.connectors.permissions import Permissions
    from mendflow.connectors.registry import Collector
    from mendflow.playbooks.model import FragmentResource
    from mendflow.tenant import TenantFile
    from mendflow.webhooks.endpoint import WebhookEndpoint

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


def _http(connection: TenantConnection, credential: Credential) -> VendorHttp:
    from mendflow.providers.github.collector import github_http

    return github_http(connection, credential)


def _collector(http: VendorHttp, tenant: str) -> Collector:
    from mendflow.providers.github.collector import GithubCollector

    return GithubCollector(http, tenant)


def _app_auth_model() -> type[BaseModel]:
    from mendflow.providers.github.auth_config import GithubAppAuth

    return GithubAppAuth


def _app_credential(connection: TenantConnection) -> Credential:
    from mendflow.providers.github.app_auth import GithubAppCredential
    from mendflow.providers.github.auth_config import GithubAppAuth

    assert isinstance(connection.auth, GithubAppAuth)  # config.py checks the kind against the provider
    return GithubAppCredential(
        connection.auth, tenant=connection.key, org=connection.tenant, base_url=connection.base_url
    )


def _permissions() -> Permissions:
    from mendflow.providers.github.permissions import PERMISSIONS

    return PERMISSIONS


def _actions() -> Mapping[str, FieldAction]:
    from mendflow.providers.github.actions import GITHUB_ACTIONS

    return GITHUB_ACTIONS


def _targets() -> Sequence[tuple[re.Pattern[str], Reader]]:
    from mendflow.providers.github.targets import GITHUB_TARGETS

    return GITHUB_TARGETS


def _owns(org: str, target: str) -> bool:
    """A GitHub delivery names repositories by full name; a signed delivery for one tenant must never make its
    token read (and its ledger record) another organization."""
    parts = target.strip("/").split("/")
    if parts[:2] == ["app", "installations"]:
        return True  # named without an org, but read from the tenant's own org listing: nothing else is reachable
    return len(parts) >= 2 and parts[0] in ("orgs", "repos") and parts[1].casefold() == org.casefold()


def _section() -> type[BaseModel]:
    from mendflow.providers.github.tenant_section import GithubSection

    return GithubSection


def _repo() -> type[BaseModel]:
    from mendflow.providers.github.tenant_section import GithubRepo

    return GithubRepo


def _objects(section: JSON, resource_type: str) -> Iterator[tuple[str, JSON]]:
    from mendflow.providers.github.tenant_section import objects

    return objects(section, resource_type)


def _case_tenant(resource_type: str, as_of: datetime, resources: Sequence[FragmentResource]) -> tuple[str, JSON]:
    from mendflow.providers.github.cases import GithubCaseTenant

    builder = GithubCaseTenant(as_of)
    for resource in resources:
        builder.add(resource_type, resource)
    document = builder.document()
    return document["tenant"], document["github"]


def _schema_types() -> Mapping[str, Mapping[str, Any]]:
    from mendflow.providers.github.schema_types import TYPES

    return TYPES


def _webhooks() -> WebhookEndpoint:
    from mendflow.providers.github.webhooks import ENDPOINT

    return ENDPOINT


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
    permissions=_permissions,
    http=_http,
    collector=_collector,
    app_auth_model=_app_auth_model,
    app_credential=_app_credential,
    actions=_actions,
    targets=_targets,
    owns=_owns,
    tenant_section=_section,
    streamed=Streamed(collection="repos", item=_repo, repeated=ORG_LEVEL),
    objects=_objects,
    case_tenant=_case_tenant,
    webhooks=_webhooks,
    simulator=_simulator,
    spec=SpecSubset(file="github-subset.json", licence="github-subset.LICENSE.txt", types=_schema_types),
    schema="mendflow.data:schemas/github.json",
)
