"""What a field a condition reads may hold, by the vendor's own schema: its JSON types, null, absence, enum, default.

The schemas are the packaged cut of the vendors' API descriptions (`Provider.schema`; GitHub's and Okta's are
`mendflow/data/schemas/<provider>.json`, made by `mendflow.playbooks.cut`). A `Shape` is every form one value
may take: `oneOf`/`anyOf` alternatives are unioned, `allOf` parts merged, OpenAPI 3.0 `nullable` adds null, a
property outside `required` may be absent. Below a free-form object (additionalProperties, or a discriminated
type whose variants the subset does not describe) nothing is known, and nothing is checked.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from mendflow import providers

NUMBER = "number"
KINDS = ("null", "boolean", NUMBER, "string", "object", "array")
"""JSON value kinds; CEL compares int and double with each other, so both are one kind here."""

_NO_DEFAULT: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Shape:
    """Every form one value may take according to the vendor's schema."""

    kinds: frozenset[str]
    """The JSON kinds it may be (see KINDS); empty when the schema does not say (free-form)."""
    path: str = ""
    """How the condition reaches it, e.g. `resource.config.insecure_ssl` (empty for computed values)."""
    optional: bool = False
    """The vendor may leave it out."""
    default: tuple[Any, ...] = _NO_DEFAULT
    """`(value,)` when the schema documents what an absent value means."""
    enum: frozenset[Any] | None = None
    """The documented values, when every string alternative lists them."""
    formats: frozenset[str] = frozenset()
    """String formats (`date-time`, `uri`, …)."""
    alternatives: tuple[dict[str, Any], ...] = field(default=(), repr=False, compare=False)
    """The resolved schema alternatives, to read fields and items below."""
    components: str = field(default="", repr=False, compare=False)
    """The provider whose components the alternatives refer to."""

    @property
    def free(self) -> bool:
        """Nothing is known about the value (nothing to check)."""
        return not self.kinds

    @property
    def nullable(self) -> bool:
        return "null" in self.kinds

    def without_null(self) -> Shape:
        return replace(self, kinds=self.kinds - {"null"}) if self.nullable and len(self.kinds) > 1 else self

    def present(self) -> Shape:
        return replace(self, optional=False)


ANY = Shape(kinds=frozenset())


@dataclass(frozen=True)
class Unknown:
    """A field the schema does not have."""

    name: str
    known: tuple[str, ...]
    """The fields the object does have (for a suggestion)."""
    not_object: str = ""
    """Set when the value is no object at all (e.g. `a string`)."""


class Schemas:
    """One provider's packaged schemas."""

    def __init__(self, provider: str, data: dict[str, Any]) -> None:
        self.provider = provider
        self.types: dict[str, dict[str, Any]] = data["types"]
        self._components: dict[str, Any] = data["components"]["schemas"]
        self._flat: dict[str, list[dict[str, Any]]] = {}

    def root(self, resource_type: str, variable: str) -> Shape:
        """The shape of `resource` or `related` for a resource type (both always present, never null)."""
        return self.shape(self.types[resource_type][variable], variable).without_null()

    def shape(self, schema: dict[str, Any], path: str, *, optional: bool = False) -> Shape:
        alternatives = self._alternatives(schema)
        kinds: set[str] = set()
        enums: set[Any] = set()
        every_string_enum = True
        formats: set[str] = set()
        default: tuple[Any, ...] = _NO_DEFAULT
        free = False
        for alt in alternatives:
            kind = _kind(alt)
            if kind is None:
                free = True
            else:
                kinds.add(kind)
            if alt.get("nullable") is True:
                kinds.add("null")
            if kind == "string":
                if "enum" in alt:
                    enums.update(v for v in alt["enum"] if v is not None)
                else:
                    every_string_enum = False
                if "format" in alt:
                    formats.add(alt["format"])
            if "default" in alt and not default:
                default = (alt["default"],)
        if free:
            kinds = set()
        return Shape(
            kinds=frozenset(kinds),
            path=path,
            optional=optional,
            default=default,
            enum=frozenset(enums) if enums and every_string_enum and not free else None,
            formats=frozenset(formats),
            alternatives=tuple(alternatives),
            components=self.provider,
        )

    def field(self, shape: Shape, name: str) -> Shape | Unknown:
        """The shape of `shape.name`: unioned over the object alternatives that have it."""
        if shape.free:
            return ANY
        found: list[tuple[dict[str, Any], bool]] = []
        known: set[str] = set()
        objects = 0
        path = f"{shape.path}.{name}" if shape.path else name
        for alt in shape.alternatives:
            if _kind(alt) != "object":
                continue
            objects += 1
            properties: dict[str, Any] = alt.get("properties", {})
            if name in properties:
                found.append((properties[name], name not in alt.get("required", ())))
            elif _open(alt, self._components):
                return replace(ANY, path=path)
            known.update(properties)
        if objects == 0:
            return Unknown(name, (), not_object=_describe(shape.kinds - {"null"}))
        if not found:
            return Unknown(name, tuple(sorted(known)))
        optional = len(found) < objects or any(absent for _, absent in found)
        merged = {"anyOf": [schema for schema, _ in found]} if len(found) > 1 else found[0][0]
        return self.shape(merged, path, optional=optional)

    def items(self, shape: Shape, path: str) -> Shape:
        """The shape of a list's elements (free when the list's items are not described)."""
        schemas = [alt["items"] for alt in shape.alternatives if _kind(alt) == "array" and "items" in alt]
        if not schemas or shape.free:
            return replace(ANY, path=path)
        return self.shape({"anyOf": schemas} if len(schemas) > 1 else schemas[0], path)

    def _alternatives(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The schema as a list of plain alternatives (no $ref, oneOf, anyOf or allOf left at the top), cached:
        the same field is resolved for every condition that reads it."""
        key = json.dumps(schema, sort_keys=True)
        found = self._flat.get(key)
        if found is None:
            found = self._flat[key] = list(_flatten(schema, self._components, 0))
        return found


def _flatten(schema: dict[str, Any], components: dict[str, Any], depth: int) -> Iterable[dict[str, Any]]:
    if depth > 32:
        yield {}
        return
    nullable = schema.get("nullable") is True
    if "$ref" in schema:
        target = _resolve(schema["$ref"], components)
        for alt in _flatten(target, components, depth + 1):
            yield {**alt, "nullable": True} if nullable else alt
        return
    choices = schema.get("oneOf") or schema.get("anyOf")
    if choices:
        base = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf", "discriminator")}
        for choice in choices:
            for alt in _flatten(choice, components, depth + 1):
                merged = _merge(base, alt) if _kind(base) is not None or base.get("properties") else alt
                yield {**merged, "nullable": True} if nullable else merged
        return
    if "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            parts = list(_flatten(part, components, depth + 1))
            merged = _merge(merged, parts[0] if len(parts) == 1 else {"anyOf": parts})
        yield from ([merged] if "anyOf" not in merged else _flatten(merged, components, depth + 1))
        return
    yield schema


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = {**left, **{k: v for k, v in right.items() if k not in ("properties", "required", "nullable")}}
    if "properties" in left or "properties" in right:
        merged["properties"] = {**left.get("properties", {}), **right.get("properties", {})}
    if "required" in left or "required" in right:
        merged["required"] = sorted({*left.get("required", ()), *right.get("required", ())})
    if left.get("nullable") is True or right.get("nullable") is True:
        merged["nullable"] = True
    return merged


def _resolve(ref: str, components: dict[str, Any]) -> dict[str, Any]:
    parts = ref.removeprefix("#/components/schemas/").split("/")
    node: Any = components.get(parts[0], {})
    for part in parts[1:]:
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _kind(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if kind in ("integer", NUMBER):
        return NUMBER
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if "enum" in schema and all(isinstance(v, str) for v in schema["enum"]):
        return "string"
    return None


def _open(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Fields beyond the listed properties may exist: free-form, or variants the subset does not describe."""
    extra = schema.get("additionalProperties")
    if extra is not None and extra is not False:
        return True
    if not schema.get("properties"):
        return True
    mapping = (schema.get("discriminator") or {}).get("mapping", {})
    return any(_resolve(target, components) == {} for target in mapping.values())


def _describe(kinds: Iterable[str]) -> str:
    names = {
        "null": "null",
        "boolean": "a boolean",
        NUMBER: "a number",
        "string": "a string",
        "object": "an object",
        "array": "a list",
    }
    ordered = [names[k] for k in KINDS if k in set(kinds)]
    return " or ".join(ordered) if ordered else "any value"


def describe(kinds: Iterable[str]) -> str:
    """`a string or a number`: the kinds in words, in a fixed order."""
    return _describe(kinds)


@functools.cache
def schemas(provider: str) -> Schemas:
    """The packaged schemas of a provider (`Provider.schema`: `package:path`, e.g. GitHub's
    `mendflow.data:schemas/github.json`); FileNotFoundError when it packages none."""
    location = providers.get(provider).schema if provider in providers.names() else None
    if location is None:
        raise FileNotFoundError(f"provider {provider!r} packages no schema")
    package, _, path = location.partition(":")
    text = resources.files(package).joinpath(path).read_text(encoding="utf-8")
    return Schemas(provider, json.loads(text))


def schemas_for(resource_type: str) -> Schemas | None:
    """The schemas describing a resource type, or None when no vendor schema is packaged for it."""
    provider = resource_type.split(".", 1)[0]
    try:
        found = schemas(provider)
    except FileNotFoundError:
        return None
    return found if resource_type in found.types else None
