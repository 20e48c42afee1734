"""Okta: an org's users, roles, factors, groups, policies, API tokens and apps, as one provider.

The connector (`collector`, `app_auth`, `actions`, `response_actions`, `targets`), the tenant-file section
(`tenant_section`), the test-case tenant builder (`cases`) and this declaration; the simulator lives in
`mendflow.sim.okta` and is imported only when `PROVIDER.simulator` is called. Registered in `mendflow.providers`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mendflow.providers.model import JSON, Provider, Reader, SpecSubset

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
    "okta.user": "/api/v1/users/{id}",
    "okta.group": "/api/v1/groups/{id}",
    "okta.policy": "/api/v1/policies/{id}",
    "okta.policy_rule": "/api/v1/policies/{pid}/rules/{id}",
    "okta.api_token": "/api/v1/api-tokens/{id}",
    "okta.app": "/api/v1/apps/{id}",
    "okta.oauth_grant": "/api/v1/apps/{app}/grants/{id}",
}
"""Resource type → the canonical path of its ids (tenant format v1: the vendor's own API path)."""


def _http(connection: TenantConnection, credential: Credential) -> VendorHttp:
    from mendflow.providers.okta.collector import okta_http

    return okta_http(connection, credential)


def _collector(http: VendorHttp, tenant: str) -> Collector:
    from mendflow.providers.okta.collector import OktaCollector

    return OktaCollector(http, tenant)


def _app_auth_model() -> type[BaseModel]:
    from mendflow.providers.okta.auth_config import OktaServiceAppAuth

    return OktaServiceAppAuth


def _app_credential(connection: TenantConnection) -> Credential:
    from mendflow.providers.okta.app_auth import OktaServiceCredential
    from mendflow.providers.okta.auth_config import OktaServiceAppAuth

    assert isinstance(connection.auth, OktaServiceAppAuth)  # config.py checks the kind against the provider
    return OktaServiceCredential(connection.auth, tenant=connection.key, base_url=connection.base_url)


def _permissions() -> Permissions:
    from mendflow.providers.okta.permissions import PERMISSIONS

    return PERMISSIONS


def _actions() -> Mapping[str, FieldAction]:
    from mendflow.providers.okta.actions import OKTA_ACTIONS

    return OKTA_ACTIONS


def _targets() -> Sequence[tuple[re.Pattern[str], Reader]]:
    from mendflow.providers.okta.targets import OKTA_TARGETS

    return OKTA_TARGETS


def _section() -> type[BaseModel]:
    from mendflow.providers.okta.tenant_section import OktaSection

    return OktaSection


def _objects(section: JSON, resource_type: str) -> Iterator[tuple[str, JSON]]:
    from mendflow.providers.okta.tenant_section import objects

    return objects(section, resource_type)


def _case_tenant(resource_type: str, as_of: datetime, resources: Sequence[FragmentResource]) -> tuple[str, JSON]:
    from mendflow.providers.okta.cases import OktaTenant

    okta = OktaTenant(as_of)
    for resource in resources:
        okta.add(resource_type, resource)
    return "acme", okta.section()


def _schema_types() -> Mapping[str, Mapping[str, Any]]:
    from mendflow.providers.okta.schema_types import TYPES

    return TYPES


def _webhooks() -> WebhookEndpoint:
    from mendflow.providers.okta.webhooks import ENDPOINT

    return ENDPOINT


def _simulator(tenant: TenantFile, token: str) -> Starlette:
    from mendflow.sim.okta import create_okta_app

    return create_okta_app(tenant, token=token)


PROVIDER = Provider(
    name="okta",
    title="Okta",
    resource_types=RESOURCE_TYPES,
    default_base_url=lambda tenant: f"https://{tenant}",  # the org host is the API's host
    concurrency_cap=75,  # Okta's concurrent-request limit per org
    token_schemes=("SSWS", "Bearer"),  # API tokens; OAuth access tokens
    credential_name="API token",
    app_auth_kind="okta_service_app",
    probe="/api/v1/groups?limit=1",
    permissions=_permissions,
    http=_http,
    collector=_collector,
    app_auth_model=_app_auth_model,
    app_credential=_app_credential,
    actions=_actions,
    targets=_targets,
    tenant_section=_section,
    objects=_objects,
    case_tenant=_case_tenant,
    webhooks=_webhooks,
    simulator=_simulator,
    spec=SpecSubset(file="okta-subset.normalized.json", licence="okta-subset.LICENSE.txt", types=_schema_types),
    schema="mendflow.data:schemas/okta.json",
)
