"""GitHub's remediation actions: which endpoint holds the fields and what body writes them."""

from __future__ import annotations

from typing import Any

from mendflow.actions import ACTIONS
from mendflow.connectors.actions import FieldAction, Fields


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
