"""mendflow's Temporal workflows (packaged from the top-level `workflows/` folder)."""

from .remediation import RemediationWorkflow
from .scan import ScanWorkflow

WORKFLOWS = (ScanWorkflow, RemediationWorkflow)

__all__ = ["WORKFLOWS", "RemediationWorkflow", "ScanWorkflow"]
