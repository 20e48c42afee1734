"""Okta: an org's users, roles, factors, groups, policies, API tokens and apps, as one provider.

The connector (`collector`, `app_auth`, `actions`, `response_actions`, `targets`), the tenant-file section
(`tenant_section`), the test-case tenant builder (`cases`) and this declaration; the simulator lives in
`mendflow.sim.okta` and is imported only when `PROVIDER.simulator` is called. Registered in `mendflow.providers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from mendflow.providers.model import JSON, Provider, SpecSubset, lazy, lazy_call

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from mendflow.config import TenantConnection
    from mendflow.connectors.credentials import Credential
    from mendflow.playbooks.model import FragmentResource
    from mendflow.tenant import TenantFile

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


def _app_credential(connection: TenantConnection) -> Credential:
    from mendflow.providers.okta.app_auth import OktaServiceCredential
    from mendflow.providers.okta.auth_config import OktaServiceAppAuth

    assert isinstance(connection.auth, OktaServiceAppAuth)  # config.py checks the kind against the provider
    return OktaServiceCredential(connection.auth, tenant=connection.key, base_url=connection.base_url)


def _case_tenant(resource_type: str, as_of: datetime, resources: Sequence[FragmentResource]) -> tuple[str, JSON]:
    from mendflow.providers.okta.cases import OktaTenant

    okta = OktaTenant(as_of)
    for resource in resources:
        okta.add(resource_type, resource)
    return "acme", okta.section()


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
    permissions=lazy("mendflow.providers.okta.permissions", "PERMISSIONS"),
    http=lazy_call("mendflow.providers.okta.collector", "okta_http"),
    collector=lazy_call("mendflow.providers.okta.collector", "OktaCollector"),
    app_auth_model=lazy("mendflow.providers.okta.auth_config", "OktaServiceAppAuth"),
    app_credential=_app_credential,
    actions=lazy("mendflow.providers.okta.actions", "OKTA_ACTIONS"),
    targets=lazy("mendflow.providers.okta.targets", "OKTA_TARGETS"),
    tenant_section=lazy("mendflow.providers.okta.tenant_section", "OktaSection"),
    objects=lazy_call("mendflow.providers.okta.tenant_section", "objects"),
    case_tenant=_case_tenant,
    webhooks=lazy("mendflow.providers.okta.webhooks", "ENDPOINT"),
    simulator=_simulator,
    spec=SpecSubset(
        file="okta-subset.normalized.json",
        licence="okta-subset.LICENSE.txt",
        types=lazy("mendflow.providers.okta.schema_types", "TYPES"),
    ),
    schema="mendflow.data:schemas/okta.json",
)
