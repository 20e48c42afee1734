"""Tests as data for response workflows: a simulated tenant, inputs, answers, the expected trace and end state.

```yaml
# okta_api_token_compromise.tests.yaml, beside the workflow
tests:
  - name: approved, the token is revoked and its owner suspended
    tenant: ../acme-okta.tenant.json        # a mendflow.tenant/v1 file (relative to this file), or one inline
    inputs: {token_id: 00T00000000000001sim}
    decisions: {approval: approve}          # per approve step: approve | reject | expire (default: approve)
    expect:
      state: completed
      steps: {approval: approved, revoke: done, suspend: done}
      resources:                            # API path → fields it holds after the run (null: it is gone)
        /api/v1/users/00u00000000000001sim: {status: SUSPENDED}
```

A case is rehearsed (`responses.rehearsal`) against a writable simulator of its tenant: the same connector
actions a worker runs, no Temporal. Cases are checked against their workflow when the file loads (step ids,
approve steps, inputs against the schema), so a typo is a file:line:column error, not a failing run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_core import InitErrorDetails

from mendflow.errors import InputError, MendflowError, VendorError
from mendflow.playbooks.base import Part, custom_error, did_you_mean
from mendflow.playbooks.case_result import CaseResult
from mendflow.responses.answers import decision_problems
from mendflow.responses.inputs import check_inputs
from mendflow.responses.messages import RunState, StepStatus
from mendflow.responses.model import ResponsePlaybook
from mendflow.tenant import TenantFile, load_tenant_file, parse_tenant

if TYPE_CHECKING:
    from mendflow.responses.rehearsal import Rehearsal


class WorkflowExpectation(Part):
    """What a case's run must end with."""

    state: RunState | None = None
    """How the run ends: completed, failed or rolled_back."""
    steps: dict[str, StepStatus] = Field(default_factory=dict)
    """Step id → its status at the end (steps not named are not checked)."""
    resources: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    """API path → fields the resource holds after the run (nested fields compared key by key); null: it is gone."""


class WorkflowCase(Part):
    """One test case of a response workflow."""

    name: str = Field(min_length=1)
    tenant: str | dict[str, Any]
    """A mendflow.tenant/v1 file (a path relative to the test-case file), or the tenant document itself."""
    inputs: dict[str, Any] = Field(default_factory=dict)
    decisions: dict[str, str] = Field(default_factory=dict)
    """Approve step id → approve | reject | expire (steps not named are approved); a `wait` for an answer's step id
    (`ask`, or `warn.ask` for the one in the for_each `warn`) → one of its options (not named: it times out)."""
    as_of: datetime | None = None
    """The rehearsal's `now` at the start (default: the tenant's taken_at)."""
    expect: WorkflowExpectation


class WorkflowTests(Part):
    """A workflow's test-case file: `tests: [...]`."""

    tests: tuple[WorkflowCase, ...]


def case_problems(cases: tuple[WorkflowCase, ...], workflow: ResponsePlaybook) -> Iterator[InitErrorDetails]:
    """What in the cases cannot match the workflow: unknown steps, answers to steps that ask nothing, bad inputs."""
    kinds = {step.id: step.kind for step in workflow.steps}
    for i, case in enumerate(cases):
        for key, why in decision_problems(workflow, case.decisions):
            yield custom_error("unknown_key", why, ("tests", i, "decisions", key), key)
        for name in case.expect.steps:
            if name not in kinds:
                message = f"unknown step {name!r}{did_you_mean(name, kinds)}"
                yield custom_error("unknown_key", message, ("tests", i, "expect", "steps", name), name)
        try:
            check_inputs(workflow.inputs, case.inputs)
        except InputError as err:
            yield custom_error("invalid_inputs", str(err), ("tests", i, "inputs"), case.inputs)


def with_tenant_paths(tests: WorkflowTests, folder: Path) -> WorkflowTests:
    """Tenant file names made absolute (they are written relative to the test-case file)."""
    cases = tuple(
        case.model_copy(update={"tenant": str((folder / case.tenant).resolve())})
        if isinstance(case.tenant, str)
        else case
        for case in tests.tests
    )
    return tests.model_copy(update={"tests": cases})


def run_workflow_case(
    workflow: ResponsePlaybook, case: WorkflowCase, *, library: Mapping[str, ResponsePlaybook] | None = None
) -> CaseResult:
    """Rehearse the case against a writable simulator of its tenant and compare with the expectation (`library`:
    the workflows its `call` steps may run, by id)."""
    result = CaseResult(workflow.id, case.name)
    try:
        tenant = _tenant(case)
        provider = (workflow.tenant or tenant.provider).split(":", 1)[0]
        if tenant.provider != provider:
            raise MendflowError(f"the tenant is a {tenant.provider} tenant, but the workflow acts on {workflow.tenant}")
        inputs = check_inputs(workflow.inputs, case.inputs)
        rehearsal, found = _run(workflow, case, tenant, inputs, library or {})
    except MendflowError as err:
        result.problems.append(f"cannot run: {err}")
        return result
    result.rehearsal = rehearsal
    expect = case.expect
    if expect.state is not None and rehearsal.state is not expect.state:
        result.problems.append(f"the run ended {rehearsal.state.value}, expected {expect.state.value}")
    got = {step.id: step for step in rehearsal.steps}
    for step_id, status in expect.steps.items():
        if got[step_id].status is not status:
            why = f" ({got[step_id].detail})" if got[step_id].detail else ""
            result.problems.append(f"step {step_id}: {got[step_id].status.value}, expected {status.value}{why}")
    for path, wanted in expect.resources.items():
        result.problems.extend(_differences(path, wanted, found[path]))
    return result


def _tenant(case: WorkflowCase) -> TenantFile:
    if isinstance(case.tenant, str):
        return load_tenant_file(case.tenant)
    return parse_tenant(case.tenant, source=f"the tenant of case {case.name!r}")


def _run(
    workflow: ResponsePlaybook,
    case: WorkflowCase,
    tenant: TenantFile,
    inputs: dict[str, Any],
    library: Mapping[str, ResponsePlaybook],
) -> tuple[Rehearsal, dict[str, Any]]:
    """The rehearsal, and each expected resource as the tenant holds it afterwards (None: gone)."""
    # Imported here, when a case runs: the loader imports this module to check cases, and the simulators and
    # connectors would add seconds to every `playbooks validate`.
    from mendflow.connectors.registry import open_session
    from mendflow.offline import simulated_tenant
    from mendflow.responses.rehearsal import rehearse

    with simulated_tenant(tenant) as sim:

        async def go() -> tuple[Rehearsal, dict[str, Any]]:
            async with open_session(sim.connection, token=sim.token) as session:
                now = case.as_of or tenant.taken_at or datetime.now(UTC)
                key = f"{tenant.provider}:{tenant.tenant}"
                rehearsal = await rehearse(
                    workflow,
                    inputs,
                    session.http,
                    write=True,
                    now=now,
                    tenant=key,
                    answers=case.decisions,
                    library=library,
                )
                found: dict[str, Any] = {}
                for path in case.expect.resources:
                    try:
                        found[path] = await session.http.get_json(path)
                    except (InputError, VendorError):  # a 404 (or a refusal): not there as far as the case sees
                        found[path] = None
                return rehearsal, found

        return asyncio.run(go())


def _differences(path: str, wanted: dict[str, Any] | None, got: Any) -> Iterator[str]:
    if wanted is None:
        if got is not None:
            yield f"{path}: still there, expected it gone"
        return
    if got is None:
        yield f"{path}: gone (or unreadable), expected {wanted}"
        return
    for key, value in wanted.items():
        actual = got.get(key) if isinstance(got, dict) else None
        if isinstance(value, dict) and isinstance(actual, dict):
            yield from _differences(f"{path} {key}", value, actual)
        elif actual != value:
            yield f"{path}: {key} is {actual!r}, expected {value!r}"
