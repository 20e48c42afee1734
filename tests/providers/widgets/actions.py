"""The one Widgets action: make a gadget private (reversible: set `public` back)."""

from __future__ import annotations

from typing import Any

from mendflow.actions import ActionParams, ActionSpec
from mendflow.connectors.actions import FieldAction, Fields


class GadgetVisibilityParams(ActionParams):
    public: bool | None = None


SET_VISIBILITY = ActionSpec(
    name="widgets.gadget.set_visibility",
    resource_type="widgets.gadget",
    reversible=True,
    params=GadgetVisibilityParams,
    summary="Make a gadget public or private.",
)
SPECS = (SET_VISIBILITY,)


def _top_level(obj: Any, names: list[str]) -> Fields:
    return {name: obj.get(name) for name in names}


IMPLEMENTATIONS = {
    SET_VISIBILITY.name: FieldAction(spec=SET_VISIBILITY, read_fields=_top_level, write_method="PATCH", body=dict)
}
