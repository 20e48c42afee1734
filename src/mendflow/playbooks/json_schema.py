"""The JSON Schema of the playbook format, generated from the pydantic models (`playbooks/schema.json`).

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

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _PlaybookSchema(GenerateJsonSchema):
    """Defaults as people write them: `1d`, not pydantic's ISO 8601 `P1D`."""

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return format_duration(dft)
        return super().encode_default(dft)


def playbook_json_schema() -> dict[str, Any]:
    """The schema of one playbook file, by alias (`apiVersion`, `with`), with every field's description.

    On top of what the models say: the known resource types and actions as enums, and for each action the
    parameters `with` accepts, so an editor completes them once the action is chosen.
    """
    schema = Playbook.model_json_schema(by_alias=True, mode="validation", schema_generator=_PlaybookSchema)
    definitions: dict[str, Any] = schema.setdefault("$defs", {})
    schema["properties"]["resource"]["enum"] = sorted(RESOURCE_TYPES)
    respond = definitions["Respond"]
    respond["properties"]["action"]["enum"] = sorted(ACTIONS)
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
    respond["allOf"] = branches
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"mendflow playbook ({API_VERSION})",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def render_schema() -> str:
    """The schema as committed in `playbooks/schema.json` (stable order, two-space indent, final newline)."""
    return json.dumps(playbook_json_schema(), indent=2, ensure_ascii=False) + "\n"
