"""Reads a Widgets tenant's gadgets through mendflow's shared HTTP layer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from mendflow.config import TenantConnection
from mendflow.connectors.coverage import Coverage, CoverageGap
from mendflow.connectors.credentials import Credential, StaticCredential
from mendflow.connectors.http import RateLimitPolicy, VendorHttp
from mendflow.models import Resource, ResourceRef
from mendflow.rules.demand import Demand


def widgets_http(connection: TenantConnection, credential: Credential) -> VendorHttp:
    return VendorHttp(
        base_url=connection.base_url,
        auth_header=credential.header if isinstance(credential, StaticCredential) else "",
        credential=None if isinstance(credential, StaticCredential) else credential,
        vendor="Widgets",
        rate_limits=RateLimitPolicy(concurrency_cap=10),
        max_concurrency=connection.max_concurrency or 4,
        request_budget=connection.request_budget,
    )


class WidgetsCollector:
    def __init__(self, http: VendorHttp, org: str) -> None:
        self.http = http
        self.org = org
        self.coverage = Coverage()

    @property
    def gaps(self) -> list[CoverageGap]:
        return self.coverage.gaps

    async def collect(self, demand: Demand | None = None) -> AsyncIterator[Resource]:
        for gadget in await self.coverage.read_list(self.http, "/gadgets") or []:
            yield Resource(type="widgets.gadget", id=f"/gadgets/{gadget['id']}", data=gadget)

    async def fetch(self, ref: ResourceRef, demand: Demand | None = None) -> Resource | None:
        found = await self.http.get_optional(ref.id)
        return None if found is None else Resource(type=ref.type, id=ref.id, data=found)
