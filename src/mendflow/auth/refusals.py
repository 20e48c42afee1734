"""Audit what workflows refuse, including requests that never passed through the API.

A validator cannot do I/O, and a refused update leaves no trace in history. So a refusing validator logs one
`workflow.logger` record carrying `mendflow_refusal` (validators never run during replay, so each refusal is
logged once), and the worker process routes those records, by task queue, into the hash-chained audit log.
A hand-made `decide` sent straight to Temporal is therefore refused AND audited.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from temporalio import workflow

from mendflow.audit import AuditEvent, AuditLog
from mendflow.models import Decision
from mendflow.workflow_types import OperatorRequest

KEY = "mendflow_refusal"
"""The `extra` key a validator's refusal record carries (a dict: verb, actor, reason, workflow id, queue)."""


class RefusalAudit(logging.Handler):
    """Appends workflow refusals to the audit log of the worker that polls their task queue."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self._logs: dict[str, AuditLog] = {}
        self._guard = threading.Lock()

    def register(self, task_queue: str, audit: AuditLog) -> None:
        with self._guard:
            self._logs[task_queue] = audit

    def emit(self, record: logging.LogRecord) -> None:
        refusal: dict[str, Any] | None = getattr(record, KEY, None)
        if not isinstance(refusal, dict):
            return
        with self._guard:
            audit = self._logs.get(str(refusal.get("task_queue", "")))
        if audit is None:
            return
        # The record is emitted from the validator, inside the workflow sandbox: the append is this handler's own
        # I/O (never part of the workflow's decisions), so it runs unrestricted.
        try:
            with workflow.unsafe.sandbox_unrestricted():
                self._append(audit, refusal)
        except Exception:  # an audit failure must never change the validator's answer
            self.handleError(record)

    @staticmethod
    def _append(audit: AuditLog, refusal: dict[str, Any]) -> None:
        audit.append(
            AuditEvent(
                kind="workflow.refusal",
                outcome="refused",
                reason=str(refusal.get("reason", "")),
                channel=str(refusal.get("channel", "")),
                actor=str(refusal.get("actor", "")),
                campaign_id=str(refusal.get("workflow_id", "")),
                details={"verb": refusal.get("verb", ""), "signed": bool(refusal.get("signed"))},
            )
        )


def log_refusal(verb: str, request: Decision | OperatorRequest, err: ValueError) -> None:
    """Called by a refusing validator (campaigns and response runs alike): the record the worker audits."""
    actor = request.approver if isinstance(request, Decision) else request.operator
    info = workflow.info()
    refusal = {"verb": verb, "actor": actor, "reason": str(err), "channel": request.channel.value,
               "signed": request.proof is not None, "workflow_id": info.workflow_id,
               "task_queue": info.task_queue}  # fmt: skip
    workflow.logger.warning("request refused", extra={KEY: refusal})


Validator = TypeVar("Validator", bound=Callable[..., None])


def refusal_logged(verb: str) -> Callable[[Validator], Validator]:
    """An update validator `(self, request)` whose refusal (a ValueError) is also logged for the worker's audit log:
    one decorator for the campaigns' and the response runs' validators."""

    def wrap(check: Validator) -> Validator:
        @functools.wraps(check)
        def validator(self: object, request: Decision | OperatorRequest) -> None:
            try:
                check(self, request)
            except ValueError as err:
                log_refusal(verb, request, err)
                raise

        return cast(Validator, validator)

    return wrap


_HANDLER = RefusalAudit()
_installed = False


def audit_refusals(task_queue: str, audit: AuditLog) -> None:
    """Send the refusals of workflows on `task_queue` (polled by this process) to `audit` (the worker's chain)."""
    global _installed
    _HANDLER.register(task_queue, audit)
    if not _installed:
        logging.getLogger("temporalio.workflow").addHandler(_HANDLER)
        _installed = True


__all__ = ["KEY", "RefusalAudit", "audit_refusals", "log_refusal", "refusal_logged"]
