"""GitHub's remediation actions: which endpoint holds the fields and what body writes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mendflow.actions import ACTIONS
from mendflow.connectors.actions import FieldAction, Fields
from mendflow.providers.github.response_actions import GITHUB_RESPONSE_ACTIONS


def _top_level(body: Any, names: list[str]) -> Fields:
    return {name: body.get(name) for name in names}


def _security_status(body: Any, names: list[str]) -> Fields:
    section = body.get("security_and_analysis") or {}
    return {name: (section.get(name) or {}).get("status", "disabled") for name in names}


def _same(resource_id: str) -> str:
    return resource_id


def _config(resource_id: str) -> str:
    return f"{resource_id}/config"


def _whole(obj: Any) -> Any:
    return obj


def _hook_config(hook: Any) -> Any:
    return hook.get("config")


def _patch(
    name: str,
    *,
    path: Callable[[str], str],
    read: Callable[[Any, list[str]], Fields],
    body: Any,
    of_object: Callable[[Any], Any],
) -> FieldAction:
    """Every GitHub action here reads the fields from one path and PATCHes them (alone) back to the same path; the
    fields also sit in the resource's own object, so a campaign's re-read of the resource serves capture and
    verify."""
    return FieldAction(
        spec=ACTIONS[name],
        read_path=path,
        write_path=path,
        write_method="PATCH",
        read_fields=read,
        body=body,
        of_object=of_object,
        blind_write=True,
    )


def _security_body(fields: Fields) -> Any:
    return {"security_and_analysis": {k: {"status": v} for k, v in fields.items()}}


GITHUB_ACTIONS: dict[str, FieldAction] = {
    action.spec.name: action
    for action in (
        # Hooks: the `/config` endpoint, never the whole hook (its PATCH would drop the masked secret).
        _patch("github.repo_hook.update_config", path=_config, read=_top_level, body=dict, of_object=_hook_config),
        _patch("github.org_hook.update_config", path=_config, read=_top_level, body=dict, of_object=_hook_config),
        _patch(
            "github.repo.update_security",
            path=_same,
            read=_security_status,
            body=_security_body,
            of_object=_whole,
        ),
        _patch("github.org.update_settings", path=_same, read=_top_level, body=dict, of_object=_whole),
        _patch("github.repo.set_visibility", path=_same, read=_top_level, body=dict, of_object=_whole),
    )
} | GITHUB_RESPONSE_ACTIONS
"""Campaign actions, and the response workflows' (hooks on/off and deleted, deploy keys, members, collaborators)."""
