"""Building blocks for a provider's schema types (`Provider.spec`): references into the spec subset's components,
and the `related` facts a connector adds, written as schemas (`mendflow.playbooks.cut` cuts them into the packaged
data file).
"""

from __future__ import annotations

from typing import Any

SCHEMAS = "#/components/schemas/"


def ref(name: str, *below: str) -> dict[str, Any]:
    """`$ref` to a component of the spec subset, or to a property below it."""
    return {"$ref": SCHEMAS + "/".join((name, *below))}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [schema], "nullable": True}


def facts(required: bool = True, **properties: dict[str, Any]) -> dict[str, Any]:
    """An object with these properties (all required unless `required=False`)."""
    return {"type": "object", "properties": properties, "required": sorted(properties) if required else []}
