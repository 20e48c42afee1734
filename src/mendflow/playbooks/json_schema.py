"""The JSON Schema of both kinds of playbook file, generated from the pydantic models (`playbooks/schema.json`).

Editors use it to complete and check playbooks as they are typed (`# yaml-language-server: $schema=../schema.json`
at the top of a file, or the YAML extension's `yaml.schemas` setting). Regenerate the committed file with
`mendflow playbooks schema > playbooks/schema.json`; a test fails while it is stale.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from mendflow.actions import ACTIONS
from mendflow.playbooks.model import API_VERSION, RESOURCE_TYPES, Playbook, format_duration
from mendflow.responses.model import ResponsePlaybook

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _PlaybookSchema(GenerateJsonSchema):
    """Defaults as people write them: `1d`, not pydantic's ISO 8601 `P1D`."""

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return format_duration(dft)
        return super().encode_default(dft)


def playbook_json_schema() -> dict[str, Any]:
    """The schema of one playbook file of either kind: with `kind` (a response workflow) `$defs/Workflow`, without
    it `$defs/Playbook` (detection). Keys by alias (`apiVersion`, `with`), every field with its description."""
    detection = detection_json_schema()
    workflow = workflow_json_schema()
    definitions: dict[str, Any] = {}
    for part in (detection, workflow):
        for name, definition in part.pop("$defs", {}).items():
            assert definitions.get(name, definition) == definition, f"two models named {name} in the playbook schema"
            definitions[name] = definition
    detection.pop("title", None)
    workflow.pop("title", None)
    definitions["Playbook"] = detection
    definitions["Workflow"] = workflow
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"mendflow playbook ({API_VERSION})",
        "description": "A detection playbook, or with `kind: Workflow` a response workflow.",
        "$defs": dict(sorted(definitions.items())),
        "if": {"required": ["kind"]},
        "then": {"$ref": "#/$defs/Workflow"},
        "else": {"$ref": "#/$defs/Playbook"},
    }


def detection_json_schema() -> dict[str, Any]:
    """A detection playbook; on top of what the models say: the known resource types and actions as enums, and
    for each action the parameters `with` accepts, so an editor completes them once the action is chosen."""
    schema = Playbook.model_json_schema(by_alias=True, mode="validation", schema_generator=_PlaybookSchema)
    definitions: dict[str, Any] = schema.setdefault("$defs", {})
    schema["properties"]["resource"]["enum"] = sorted(RESOURCE_TYPES)
    respond = definitions["Respond"]
    respond["properties"]["action"]["enum"] = sorted(ACTIONS)
    respond["allOf"] = _action_parameters(definitions)
    return schema


def workflow_json_schema() -> dict[str, Any]:
    """A response workflow (`kind: Workflow`): its steps' actions as an enum, with each action's parameters."""
    schema = ResponsePlaybook.model_json_schema(by_alias=True, mode="validation", schema_generator=_PlaybookSchema)
    definitions: dict[str, Any] = schema.setdefault("$defs", {})
    step = definitions["Step"]
    step["properties"]["action"] = {
        "description": step["properties"]["action"].get("description", ""),
        "enum": sorted(ACTIONS),
    }
    step["allOf"] = _action_parameters(definitions)
    return schema


def _action_parameters(definitions: dict[str, Any]) -> list[dict[str, Any]]:
    """One `if action is X then with is X's parameters` branch per action (their own $defs added to `definitions`)."""
    branches = []
    for name, spec in sorted(ACTIONS.items()):
        params = spec.params.model_json_schema(by_alias=True, mode="validation")
        definitions.update(params.pop("$defs", {}))
        params["description"] = f"Parameters of {name}: {spec.summary}"
        params.pop("title", None)
        params["minProperties"] = 1
        branches.append(
            {
                "if": {"properties": {"action": {"const": name}}, "required": ["action"]},
                "then": {"properties": {"with": params}},
            }
        )
    return branches


def render_schema() -> str:
    """The schema as committed in `playbooks/schema.json` (stable order, two-space indent, final newline)."""
    return json.dumps(playbook_json_schema(), indent=2, ensure_ascii=False) + "\n"
