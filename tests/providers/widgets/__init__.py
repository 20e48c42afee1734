"""Widgets: a made-up SaaS vendor whose tenants hold gadgets, as a provider package of its own.

It proves the provider contract (`mendflow.providers.Provider`, docs/providers.md): everything mendflow needs to
know about the vendor is declared here and in the modules beside this one, and one `register(PROVIDER)` makes
tenant files, connections, playbooks, test cases, actions and offline scans work for it. The simulator is imported
only when `PROVIDER.simulator` is called, as for the shipped providers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from mendflow.providers import Provider
from mendflow.providers.model import lazy, lazy_call
from tests.providers.widgets.actions import SPECS

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from mendflow.playbooks.model import FragmentResource
    from mendflow.tenant import TenantFile

JSON = dict[str, object]


def _case_tenant(
    resource_type: str, as_of: datetime, resources: Sequence[FragmentResource]
) -> tuple[str, dict[str, object]]:
    from tests.providers.widgets.section import case_section

    return "shop", case_section(resource_type, resources)


def _simulator(tenant: TenantFile, token: str) -> Starlette:
    from tests.providers.widgets.simulator import create_widgets_app

    return create_widgets_app(tenant, token=token)


PROVIDER = Provider(
    name="widgets",
    title="Widgets",
    resource_types={"widgets.gadget": "/gadgets/{id}"},
    default_base_url=lambda tenant: f"https://{tenant}.widgets.example",
    concurrency_cap=10,
    token_schemes=("Bearer",),
    credential_name="API key",
    app_auth_kind=None,
    probe="/gadgets",
    http=lazy_call("tests.providers.widgets.collector", "widgets_http"),
    collector=lazy_call("tests.providers.widgets.collector", "WidgetsCollector"),
    actions=lazy("tests.providers.widgets.actions", "IMPLEMENTATIONS"),
    action_specs=SPECS,
    tenant_section=lazy("tests.providers.widgets.section", "WidgetsSection"),
    objects=lazy_call("tests.providers.widgets.section", "objects"),
    case_tenant=_case_tenant,
    simulator=_simulator,
)
