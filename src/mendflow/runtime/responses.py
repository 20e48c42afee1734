"""Starting a response workflow run and following it (used by `mendflow run`, `mendflow status` and the tests)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from mendflow.errors import InputError
from mendflow.responses import ResponsePlaybook, check_inputs, definition_digest
from mendflow.responses.inputs import refuse_secrets
from mendflow.responses.messages import PinnedDefinition, ResponseInput, ResponseStatus
from mendflow.responses.triggers import RUN_PREFIX as RUN_PREFIX
from mendflow.runtime.client import TASK_QUEUE

RESPONSE_WORKFLOW = "ResponseWorkflow"


async def start_response(
    client: Client,
    definition: ResponsePlaybook,
    inputs: dict[str, Any],
    *,
    tenant_key: str | None = None,
    requested_by: str = "",
    task_queue: str = TASK_QUEUE,
    retention: timedelta = timedelta(0),
    children: dict[str, PinnedDefinition] | None = None,
) -> WorkflowHandle[Any, ResponseStatus]:
    """Check the inputs and start a run pinned to this definition's digest; the handle of this very run (its
    result follows this run; its `id` is the run id). `retention`: how long the finished run can still be rolled
    back (`DEFAULT_RETENTION` for people's runs). `children`: the workflows its `call` steps run (`pin_calls`)."""
    tenant = tenant_key or definition.tenant
    if not tenant:
        raise InputError(f"{definition.id} names no tenant: give --tenant KEY (e.g. okta:acme)")
    refuse_secrets(inputs)  # the inputs are stored in the run's history
    checked = check_inputs(definition.inputs, inputs)
    digest = definition_digest(definition)
    run_id = f"{RUN_PREFIX}{definition.id}/{digest.removeprefix('sha256:')[:12]}/{uuid.uuid4().hex[:12]}"
    request = ResponseInput(
        run_id=run_id,
        tenant_key=tenant,
        definition=definition,
        digest=digest,
        inputs=checked,
        requested_by=requested_by,
        retention=retention,
        children=children or {},
    )
    handle: WorkflowHandle[Any, ResponseStatus] = await client.start_workflow(
        RESPONSE_WORKFLOW, request, id=run_id, task_queue=task_queue, result_type=ResponseStatus
    )
    return handle


async def response_status(client: Client, run_id: str) -> ResponseStatus:
    """The run's step timeline (a query: answered for finished runs too)."""
    status: ResponseStatus = await client.get_workflow_handle(run_id).query("status", result_type=ResponseStatus)
    return status


async def wait_response_idle(client: Client, run_id: str) -> ResponseStatus:
    """Until the run waits for a person (an approval) or has finished."""
    handle = client.get_workflow_handle(run_id)
    if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
        try:
            status: ResponseStatus = await handle.execute_update("wait_idle", result_type=ResponseStatus)
            return status
        except (WorkflowUpdateFailedError, RPCError):
            if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                raise
    return await response_status(client, run_id)
