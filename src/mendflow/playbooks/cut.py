"""Cut the vendors' API descriptions down to what conditions read, as the data file the type checker ships with.

mendflow never reads `tests/specs` at run time: this module turns a vendor description (already a subset, see
tests/specs/README.md) into `mendflow/data/schemas/<provider>.json`, keeping only the schemas reachable from each
resource type and only the keywords that say what shape a value takes. Each provider names its subset and writes
its types (`Provider.spec`: `resource` and the `related` facts, mendflow's own contract with its connector, in
`providers/<name>/schema_types.py`); both are baked into the same file.

Regenerate after a spec subset or a connector's `related` facts change (a test fails while the file is stale):

    python -m mendflow.playbooks.cut tests/specs
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mendflow import providers
from mendflow.playbooks.schema_refs import SCHEMAS
from mendflow.providers.model import SpecSubset

KEPT = frozenset(
    {
        "type",
        "properties",
        "required",
        "items",
        "oneOf",
        "anyOf",
        "allOf",
        "$ref",
        "nullable",
        "enum",
        "default",
        "format",
        "additionalProperties",
        "discriminator",
    }
)
"""Schema keywords that describe a value's shape; descriptions and examples are dropped."""


def subsets() -> dict[str, SpecSubset]:
    """Provider → its spec subset (`Provider.spec`), for every registered provider that has one."""
    return {p.name: p.spec for p in providers.providers() if p.spec is not None}


def cut(spec: dict[str, Any], types: Mapping[str, Mapping[str, Any]], source: str) -> dict[str, Any]:
    """The data file for one provider: its types' schemas and every component they reach, shape keywords only."""
    components: dict[str, Any] = spec["components"]["schemas"]
    reached: set[str] = set()
    pending = [_strip(schema) for entry in types.values() for schema in entry.values()]
    while pending:
        for ref in _refs(pending.pop()):
            name = ref.removeprefix(SCHEMAS).split("/", 1)[0]
            if name in components and name not in reached:
                reached.add(name)
                pending.append(_strip(components[name]))
    return {
        "source": source,
        "generated_by": "python -m mendflow.playbooks.cut tests/specs",
        "types": {
            name: {part: _strip(schema) for part, schema in entry.items()} for name, entry in sorted(types.items())
        },
        "components": {"schemas": {name: _strip(components[name]) for name in sorted(reached)}},
    }


def _strip(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strip(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in KEPT:
            continue
        if key == "properties":
            kept[key] = {name: _strip(sub) for name, sub in value.items()}
        elif key == "discriminator":
            kept[key] = {k: v for k, v in value.items() if k in ("propertyName", "mapping")}
        elif key in ("enum", "default", "required"):
            kept[key] = value
        else:
            kept[key] = _strip(value)
    return kept


def _refs(schema: Any) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            elif key == "discriminator" and isinstance(value, dict):
                found.extend(v for v in value.get("mapping", {}).values() if isinstance(v, str))
            else:
                found.extend(_refs(value))
    elif isinstance(schema, list):
        for item in schema:
            found.extend(_refs(item))
    return found


def render(data: dict[str, Any]) -> str:
    """The file's exact text (stable, so a test can compare it byte for byte)."""
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    """Write `src/mendflow/data/schemas/<provider>.json` (and its licence) from a folder of spec subsets."""
    if len(argv) != 1:
        print("usage: python -m mendflow.playbooks.cut SPEC_FOLDER", file=sys.stderr)
        return 2
    specs = Path(argv[0])
    out = Path(__file__).parents[1] / "data" / "schemas"
    out.mkdir(exist_ok=True)
    for provider, subset in subsets().items():
        spec = json.loads((specs / subset.file).read_text(encoding="utf-8"))
        data = cut(spec, subset.types(), f"tests/specs/{subset.file} (licence: {provider}.LICENSE.txt)")
        (out / f"{provider}.json").write_text(render(data), encoding="utf-8")
        (out / f"{provider}.LICENSE.txt").write_text(
            (specs / subset.licence).read_text(encoding="utf-8"), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
