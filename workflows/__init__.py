"""mendflow's Temporal workflows (packaged from the top-level `workflows/` folder)."""

from .remediation import RemediationWorkflow
from .rescan import RescanWorkflow
from .response import ResponseWorkflow
from .scan import ScanWorkflow
from .suppression import SuppressionWorkflow

WORKFLOWS = (ScanWorkflow, RemediationWorkflow, SuppressionWorkflow, RescanWorkflow, ResponseWorkflow)

__all__ = [
    "WORKFLOWS",
    "RemediationWorkflow",
    "RescanWorkflow",
    "ResponseWorkflow",
    "ScanWorkflow",
    "SuppressionWorkflow",
]
