"""The vendor objects of a tenant file section, by the resource id the connector gives each (for companions).

A value-shape companion changes one field of one resource in the tenant a case is run on, so it needs the object
behind a resource id inside a provider's section of a mendflow.tenant/v1 document (each provider finds its own:
`Provider.objects`, e.g. `providers/github/tenant_section.py`). The ids follow
`mendflow.playbooks.model.RESOURCE_TYPES`; objects are returned as they sit in the section (changes to them change the
tenant).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mendflow import providers

JSON = dict[str, Any]


def objects(section: JSON, resource_type: str) -> Iterator[tuple[str, JSON]]:
    """(resource id, object) for every object of `resource_type` in a provider section, in file order."""
    name = resource_type.split(".", 1)[0]
    if name in providers.names():
        yield from providers.get(name).objects(section, resource_type)


def locate(section: JSON, resource_type: str, resource_id: str) -> JSON | None:
    """The object a resource id names, or None when the section has no such object."""
    return next((found for rid, found in objects(section, resource_type) if rid == resource_id), None)
