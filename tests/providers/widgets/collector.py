"""Reads a Widgets tenant's gadgets through mendflow's shared HTTP layer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from mendflow.config import TenantConnection
from mendflow.connectors.coverage import CoveredCollector
from mendflow.connectors.credentials import Credential
from mendflow.connectors.http import RateLimitPolicy, VendorHttp, tenant_http
from mendflow.models import Resource, ResourceRef
from mendflow.rules.demand import Demand


def widgets_http(connection: TenantConnection, credential: Credential) -> VendorHttp:
    return tenant_http(
        connection, credential, vendor="Widgets", rate_limits=RateLimitPolicy(concurrency_cap=10), default_concurrency=4
    )


class WidgetsCollector(CoveredCollector):
    async def collect(self, demand: Demand | None = None) -> AsyncIterator[Resource]:
        for gadget in await self.coverage.read_list(self.http, "/gadgets") or []:
            yield Resource(type="widgets.gadget", id=f"/gadgets/{gadget['id']}", data=gadget)

    async def fetch(self, ref: ResourceRef, demand: Demand | None = None) -> Resource | None:
        found = await self.http.get_optional(ref.id)
        return None if found is None else Resource(type=ref.type, id=ref.id, data=found)
