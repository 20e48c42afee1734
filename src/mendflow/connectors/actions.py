"""Reversible field-setting actions, written once: capture → apply → verify → restore.

Every action here sets a few fields of one vendor object. It captures exactly those fields before writing
(`before`), writes only when the current value differs (so repeating it after a crash changes nothing), verifies
by re-reading, and restores by writing `before` back — again only if it differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mendflow.actions import ActionParams, ActionSpec
from mendflow.connectors.http import VendorHttp

Fields = dict[str, Any]


@dataclass(frozen=True)
class FieldAction:
    """One vendor's recipe for reading and writing a flat set of fields of a resource."""

    spec: ActionSpec
    read_path: Callable[[str], str]
    """Resource id → the path whose GET returns the fields."""
    write_path: Callable[[str], str]
    write_method: str
    read_fields: Callable[[Any, list[str]], Fields]
    """GET body, field names → {field: current value}."""
    body: Callable[[Fields], Any]
    """{field: value} → the vendor's request body."""

    async def current(self, http: VendorHttp, resource_id: str, names: list[str]) -> Fields:
        return self.read_fields(await http.get_json(self.read_path(resource_id)), names)

    async def capture(self, http: VendorHttp, resource_id: str, params: ActionParams) -> Fields:
        """The prior state of exactly the fields this action will write."""
        return await self.current(http, resource_id, list(params.as_body()))

    async def write(self, http: VendorHttp, resource_id: str, target: Fields) -> bool:
        """Make the fields equal `target`; return False (and write nothing) when they already are."""
        if await self.current(http, resource_id, list(target)) == target:
            return False
        await http.request(self.write_method, self.write_path(resource_id), json=self.body(target))
        return True

    async def apply(self, http: VendorHttp, resource_id: str, params: ActionParams) -> bool:
        return await self.write(http, resource_id, params.as_body())

    async def restore(self, http: VendorHttp, resource_id: str, before: Fields) -> bool:
        return await self.write(http, resource_id, before)

    async def holds(self, http: VendorHttp, resource_id: str, target: Fields) -> bool:
        """Re-read and compare: does the resource now carry `target`?"""
        return await self.current(http, resource_id, list(target)) == target
