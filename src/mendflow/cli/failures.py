"""Temporal failures as one line for the person at the terminal.

A workflow that fails arrives as a chain (`WorkflowFailureError` → `ActivityError` → `ApplicationError`); the
useful part is the innermost message and the `type` our activities gave it. An input error the worker raised
(an unknown tenant key, a bad tenant file) keeps its exit code 2, a refusal (not allowed, unknown finding) 3;
anything else is mendflow failing (exit 1). Operator verbs get their answers through the API client instead.
"""

from __future__ import annotations

from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError, TemporalError, TimeoutError
from temporalio.service import RPCError

from mendflow.errors import InputError, MendflowError, Refused

INPUT_TYPES = frozenset({"InputError", "TenantFileError", "PlaybookError"})
"""`ApplicationError.type` values that mean the caller gave something unusable (exit 2)."""
REFUSED_TYPES = frozenset({"Refused", "NotAllowed", "NotFound"})
"""`ApplicationError.type` values that mean a policy said no (exit 3)."""


def _innermost(err: BaseException) -> BaseException:
    seen: set[int] = set()
    while err.__cause__ is not None and id(err) not in seen:
        seen.add(id(err))
        err = err.__cause__
    return err


def _where(err: BaseException) -> str:
    """`activity collect_inventory` / `child workflow X` for the deepest step that names itself."""
    step = ""
    current: BaseException | None = err
    while current is not None:
        if isinstance(current, ActivityError):
            step = f"activity {current.activity_type}"
        elif isinstance(current, ChildWorkflowError):
            step = f"child workflow {current.workflow_id}"
        current = current.__cause__
    return step


def explain(err: TemporalError | RPCError, *, what: str) -> MendflowError:
    """One user-facing error for a Temporal failure of `what` (e.g. `scan of github:acme`)."""
    if isinstance(err, RPCError):
        return MendflowError(f"{what}: Temporal refused the call ({err.status.name}): {err.message}")
    if isinstance(err, WorkflowQueryFailedError):
        return MendflowError(f"{what}: query failed: {err.message}")
    if not isinstance(err, WorkflowFailureError | WorkflowUpdateFailedError):
        return MendflowError(f"{what}: {type(err).__name__}: {err}")
    root = _innermost(err)
    step = _where(err)
    where = f"{what} ({step})" if step else what
    if isinstance(root, ApplicationError):
        kind = root.type or ""
        if kind in INPUT_TYPES:
            return InputError(f"{where}: {root.message}")
        if kind in REFUSED_TYPES:
            return Refused(f"{where}: refused: {root.message}")
        return MendflowError(f"{where} failed: {root.message}")
    if isinstance(root, TimeoutError):
        return MendflowError(f"{where} timed out ({root.type.name if root.type else 'timeout'})")
    message = getattr(root, "message", None) or str(root) or type(root).__name__
    return MendflowError(f"{where} failed: {message}")
