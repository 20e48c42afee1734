"""The `widgets` section of a tenant file, where objects sit in it, and a section built from test-case resources."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mendflow.playbooks.model import FragmentResource
from mendflow.tenant import VendorObject


class Gadget(VendorObject):
    id: str
    name: str


class WidgetsSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gadgets: list[Gadget] = Field(default_factory=list)


def objects(section: dict[str, Any], resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if resource_type == "widgets.gadget":
        for gadget in section.get("gadgets") or []:
            yield f"/gadgets/{gadget['id']}", gadget


def case_section(resource_type: str, resources: Sequence[FragmentResource]) -> dict[str, Any]:
    gadgets = []
    for resource in resources:
        gadget_id = resource.id.rsplit("/", 1)[-1]
        gadgets.append({"name": f"gadget {gadget_id}", "public": False, **resource.data, "id": gadget_id})
    return {"gadgets": gadgets}
