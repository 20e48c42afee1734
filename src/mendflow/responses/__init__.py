"""Response workflows (`kind: Workflow`): multi-step playbooks — format, checks, inputs and the run's records.

load_response_file(path) ─> ResponsePlaybook (every step checked, alone and together)
check_inputs(schema, values) ─> the run's inputs, or InputError naming the field
ResponseWorkflow (workflows/response.py) interprets the definition, pinned by `definition_digest`.
"""

from mendflow.responses.graph import ancestors, dependencies, run_order
from mendflow.responses.inputs import check_inputs, parse_pairs
from mendflow.responses.loader import definition_digest, load_response_file, response_problems
from mendflow.responses.model import KIND, SUPPORTED_KINDS, OnFailure, ResponsePlaybook, Step, StepKind

__all__ = [
    "KIND",
    "SUPPORTED_KINDS",
    "OnFailure",
    "ResponsePlaybook",
    "Step",
    "StepKind",
    "ancestors",
    "check_inputs",
    "definition_digest",
    "dependencies",
    "load_response_file",
    "parse_pairs",
    "response_problems",
    "run_order",
]
