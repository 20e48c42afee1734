"""mendflow's Temporal workflows (packaged from the top-level `workflows/` folder)."""

from mendflow.workflows.remediation import RemediationWorkflow
from mendflow.workflows.scan import ScanWorkflow

WORKFLOWS = (ScanWorkflow, RemediationWorkflow)

__all__ = ["WORKFLOWS", "RemediationWorkflow", "ScanWorkflow"]
