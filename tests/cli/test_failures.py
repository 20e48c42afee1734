"""Temporal failures become one user-facing error whose class carries the exit code."""

from __future__ import annotations

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from mendflow.cli.failures import explain
from mendflow.errors import InputError, MendflowError, Refused


def failed(kind: str, message: str) -> WorkflowFailureError:
    cause = ApplicationError(message, type=kind, non_retryable=True)
    err = WorkflowFailureError(cause=cause)
    err.__cause__ = cause
    return err


def test_worker_input_errors_stay_input_errors() -> None:
    """An InputError the worker raised is exit 2 for the caller, with its message and what failed."""
    problem = explain(failed("InputError", "unknown tenant 'github:nope'"), what="scan of github:nope")
    assert isinstance(problem, InputError) and str(problem) == "scan of github:nope: unknown tenant 'github:nope'"


def test_policy_refusals_are_refusals() -> None:
    """NotAllowed / NotFound from an activity are refusals (exit 3), said in the activity's words."""
    problem = explain(failed("NotAllowed", "mallory may not accept risk"), what="suppression")
    assert isinstance(problem, Refused) and "mallory may not accept risk" in str(problem)


def test_anything_else_is_mendflow_failing() -> None:
    """Other failures are exit 1 and still one line naming what failed."""
    problem = explain(failed("VendorError", "GET /orgs/acme → HTTP 500"), what="scan of github:acme")
    assert type(problem) is MendflowError
    assert str(problem) == "scan of github:acme failed: GET /orgs/acme → HTTP 500"
