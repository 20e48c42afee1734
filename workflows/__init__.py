"""mendflow's Temporal workflows (packaged from the top-level `workflows/` folder)."""

from .remediation import RemediationWorkflow
from .scan import ScanWorkflow
from .suppression import SuppressionWorkflow

WORKFLOWS = (ScanWorkflow, RemediationWorkflow, SuppressionWorkflow)

__all__ = ["WORKFLOWS", "RemediationWorkflow", "ScanWorkflow", "SuppressionWorkflow"]
