"""Shapes read from OpenAPI schemas: alternatives unioned, allOf merged, null, absence, enums, open objects."""

from __future__ import annotations

from typing import Any

from mendflow.playbooks.vendor_schema import Schemas, Shape, Unknown, schemas_for

COMPONENTS: dict[str, Any] = {
    "flag": {"oneOf": [{"type": "string", "enum": ["0", "1"]}, {"type": "integer"}]},
    "status": {"type": "string", "enum": ["ACTIVE", "INACTIVE"]},
    "thing": {
        "type": "object",
        "required": ["id", "flag"],
        "properties": {
            "id": {"type": "integer"},
            "flag": {"$ref": "#/components/schemas/flag"},
            "status": {"allOf": [{"$ref": "#/components/schemas/status"}, {"nullable": True}]},
            "system": {"type": "boolean", "default": False},
            "profile": {"type": "object", "additionalProperties": True},
            "kind": {"type": "string"},
        },
        "discriminator": {"propertyName": "kind", "mapping": {"A": "#/components/schemas/missing-variant"}},
    },
    "plain": {"type": "object", "properties": {"name": {"type": "string"}}},
}


def schemas() -> Schemas:
    data = {
        "types": {
            "x.thing": {"resource": {"$ref": "#/components/schemas/thing"}, "related": {"type": "object"}},
            "x.plain": {"resource": {"$ref": "#/components/schemas/plain"}, "related": {"type": "object"}},
        },
        "components": {"schemas": COMPONENTS},
    }
    return Schemas("test", data)


def field(resource_type: str, *names: str) -> Shape | Unknown:
    found = schemas()
    shape: Shape | Unknown = found.root(resource_type, "resource")
    for name in names:
        assert isinstance(shape, Shape)
        shape = found.field(shape, name)
    return shape


def test_one_of_alternatives_are_unioned_and_a_partial_enum_is_not_an_enum() -> None:
    """A string-enum-or-integer field may be either kind; the string enum alone does not bound the integer."""
    shape = field("x.thing", "flag")
    assert isinstance(shape, Shape)
    assert shape.kinds == {"string", "number"} and not shape.optional
    assert shape.enum == {"0", "1"}  # every *string* alternative lists its values


def test_all_of_with_nullable_keeps_the_enum_and_adds_null() -> None:
    """`allOf: [$ref, {nullable: true}]` is the enum's strings or null, and optional when not required."""
    shape = field("x.thing", "status")
    assert isinstance(shape, Shape)
    assert shape.kinds == {"string", "null"} and shape.enum == {"ACTIVE", "INACTIVE"} and shape.optional


def test_documented_default_and_open_objects() -> None:
    """A default is kept; below additionalProperties anything goes (free)."""
    system = field("x.thing", "system")
    assert isinstance(system, Shape) and system.default == (False,) and system.optional
    below = field("x.thing", "profile", "anything")
    assert isinstance(below, Shape) and below.free


def test_a_discriminated_type_whose_variant_is_not_described_is_open() -> None:
    """Variants the subset leaves out may add fields: an unlisted field is free, not unknown."""
    assert isinstance(field("x.thing", "settings"), Shape)
    unknown = field("x.plain", "nmae")
    assert isinstance(unknown, Unknown) and unknown.known == ("name",)


def test_a_field_of_a_scalar_is_unknown_and_says_what_the_value_is() -> None:
    """`thing.id.x`: an integer has no fields."""
    unknown = field("x.thing", "id", "x")
    assert isinstance(unknown, Unknown) and unknown.not_object == "a number"


def test_packaged_providers_describe_every_resource_type_a_playbook_may_name() -> None:
    """Each GitHub and Okta resource type has a packaged schema for `resource` and `related`."""
    from mendflow.playbooks.model import RESOURCE_TYPES

    for resource_type in RESOURCE_TYPES:
        found = schemas_for(resource_type)
        assert found is not None, resource_type
        assert not found.root(resource_type, "resource").free, resource_type
