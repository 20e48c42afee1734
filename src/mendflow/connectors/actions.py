"""Reversible field-setting actions, written once: capture → apply → verify → restore.

Every action here sets a few fields of one vendor object. It captures exactly those fields before writing
(`before`), writes only when the current value differs (so repeating it after a crash changes nothing), verifies
by re-reading, and restores by writing `before` back — again only if it differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mendflow.actions import ACTIONS, ActionParams, ActionSpec
from mendflow.connectors.http import VendorHttp
from mendflow.errors import ActionError

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


def _top_level(body: Any, names: list[str]) -> Fields:
    return {name: body.get(name) for name in names}


def _security_status(body: Any, names: list[str]) -> Fields:
    section = body.get("security_and_analysis") or {}
    return {name: (section.get(name) or {}).get("status", "disabled") for name in names}


def _same(resource_id: str) -> str:
    return resource_id


def _config(resource_id: str) -> str:
    return f"{resource_id}/config"


GITHUB_ACTIONS: dict[str, FieldAction] = {
    action.spec.name: action
    for action in (
        FieldAction(
            spec=ACTIONS["github.repo_hook.update_config"],
            read_path=_config,
            write_path=_config,
            write_method="PATCH",
            read_fields=_top_level,
            body=dict,
        ),
        FieldAction(
            spec=ACTIONS["github.org_hook.update_config"],
            read_path=_config,
            write_path=_config,
            write_method="PATCH",
            read_fields=_top_level,
            body=dict,
        ),
        FieldAction(
            spec=ACTIONS["github.repo.update_security"],
            read_path=_same,
            write_path=_same,
            write_method="PATCH",
            read_fields=_security_status,
            body=lambda fields: {"security_and_analysis": {k: {"status": v} for k, v in fields.items()}},
        ),
        FieldAction(
            spec=ACTIONS["github.org.update_settings"],
            read_path=_same,
            write_path=_same,
            write_method="PATCH",
            read_fields=_top_level,
            body=dict,
        ),
    )
}


def get_action(name: str) -> FieldAction:
    """The implementation of a catalogued action."""
    try:
        return GITHUB_ACTIONS[name]
    except KeyError:
        raise ActionError(f"action {name!r} has no implementation in this version of mendflow") from None


def parse_params(name: str, raw: dict[str, Any]) -> ActionParams:
    """Validate a playbook's `with` mapping against the action's parameter model."""
    return get_action(name).spec.params.model_validate(raw)
