"""mendflow's Temporal workflows (packaged from the top-level `workflows/` folder)."""

from .remediation import RemediationWorkflow
from .rescan import RescanWorkflow
from .response import ResponseWorkflow
from .response_items import ResponseItemsWorkflow
from .scan import ScanWorkflow
from .suppression import SuppressionWorkflow

WORKFLOWS = (
    ScanWorkflow,
    RemediationWorkflow,
    SuppressionWorkflow,
    RescanWorkflow,
    ResponseWorkflow,
    ResponseItemsWorkflow,
)

__all__ = [
    "WORKFLOWS",
    "RemediationWorkflow",
    "RescanWorkflow",
    "ResponseItemsWorkflow",
    "ResponseWorkflow",
    "ScanWorkflow",
    "SuppressionWorkflow",
]
