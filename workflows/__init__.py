"""mendflow's Temporal workflows (packaged from the top-level `workflows/` folder).

The names below are imported on first use, not when the package is: Temporal's sandbox executes a workflow's
module, and so this package, afresh for every workflow run, and a response run has no use for the campaign, scan
and rescan modules (executing them all cost each run's first workflow task about two thirds of its import time;
bench/workflows.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .remediation import RemediationWorkflow
    from .rescan import RescanWorkflow
    from .response import ResponseWorkflow
    from .response_items import ResponseItemsWorkflow
    from .scan import ScanWorkflow
    from .suppression import SuppressionWorkflow

    WORKFLOWS: tuple[type, ...]

_HOMES = {
    "ScanWorkflow": "scan",
    "RemediationWorkflow": "remediation",
    "SuppressionWorkflow": "suppression",
    "RescanWorkflow": "rescan",
    "ResponseWorkflow": "response",
    "ResponseItemsWorkflow": "response_items",
}
"""Each workflow class → its module; WORKFLOWS lists them in this order."""


def __getattr__(name: str) -> Any:
    if name == "WORKFLOWS":
        return tuple(__getattr__(workflow) for workflow in _HOMES)
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)


__all__ = [
    "WORKFLOWS",
    "RemediationWorkflow",
    "RescanWorkflow",
    "ResponseItemsWorkflow",
    "ResponseWorkflow",
    "ScanWorkflow",
    "SuppressionWorkflow",
]
