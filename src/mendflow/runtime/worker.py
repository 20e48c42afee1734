"""Assembling a worker: mendflow's workflows on the base task queue and its activities on one queue per role.

`build_worker(..., roles=…)` polls the base queue for workflow tasks (and the few activities that run beside the
workflows) and `<base>.<role>` for each role's activities (`mendflow.routing`). The embedded stack and tests run
every role in one process; `mendflow worker --queues integrations` runs only Slack/Jira publishing, so each role
scales on its own. A worker without the scan or remediation role polls no workflow tasks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from mendflow.activities.publish import PublishActivities
from mendflow.activities.remediation import RemediationActivities
from mendflow.activities.rescan import RescanActivities
from mendflow.activities.response import ResponseActivities
from mendflow.activities.response_questions import QuestionActivities
from mendflow.activities.scan import ScanActivities
from mendflow.activities.suppression import SuppressionActivities
from mendflow.routing import ALL_ROLES, ROLE_OF, Activity, Role, role_queue
from mendflow.runtime.client import TASK_QUEUE
from mendflow.runtime.limits import TenantLimitsInterceptor
from mendflow.store.limits import TenantLimits
from mendflow.telemetry.interceptors import WorkerTelemetry
from mendflow.worker_context import WorkerContext
from mendflow.workflows import WORKFLOWS


class WorkerGroup:
    """Several Temporal workers (one per task queue) started and drained together."""

    def __init__(self, workers: Sequence[Worker]) -> None:
        self.workers = list(workers)
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def task_queues(self) -> list[str]:
        return [w.task_queue for w in self.workers]

    async def __aenter__(self) -> WorkerGroup:
        stack = contextlib.AsyncExitStack()
        try:
            for worker in self.workers:
                await stack.enter_async_context(worker)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.__aexit__(kind, error, trace)


HEARTBEAT_THROTTLE = timedelta(seconds=1)
"""Longest an activity heartbeat waits before it reaches the server (the SDK's default is up to 60 s):
`mendflow scan` shows the collection's progress from its heartbeat details, polled about once a second."""


LOCAL = frozenset({Activity.plan_response_gate})
"""Activities workflows also run as local activities: registered on the workflow queue's worker too (a response
run resolves its operators so, reading only the worker's config)."""


def activities_by_name(context: WorkerContext) -> dict[Activity, Callable[..., Any]]:
    """Every activity implementation of mendflow, by its registered name."""
    scan = ScanActivities(context)
    rescan = RescanActivities(context)
    remediation = RemediationActivities(context)
    suppression = SuppressionActivities(context)
    publish = PublishActivities(context)
    response = ResponseActivities(context, publish)
    questions = QuestionActivities(context, publish)
    return {
        Activity.collect_inventory: scan.collect_inventory,
        Activity.collect_targets: rescan.collect_targets,
        Activity.evaluate_rules: scan.evaluate_rules,
        Activity.reconcile_findings: scan.reconcile_findings,
        Activity.plan_campaign: remediation.plan_campaign,
        Activity.load_targets: remediation.load_targets,
        Activity.prepare_changes: remediation.prepare_changes,
        Activity.change_resource: remediation.change_resource,
        Activity.apply_changes: remediation.apply_changes,
        Activity.restore_change: remediation.restore_change,
        Activity.check_change_window: remediation.check_change_window,
        Activity.settle_findings: remediation.settle_findings,
        Activity.store_journal: remediation.store_journal,
        Activity.load_journal: remediation.load_journal,
        Activity.store_targets: remediation.store_targets,
        Activity.publish_campaign: publish.publish_campaign,
        Activity.escalate_campaign: publish.escalate_campaign,
        Activity.suppress_finding: suppression.suppress_finding,
        Activity.reopen_finding: suppression.reopen_finding,
        Activity.read_resource: response.read_resource,
        Activity.capture_response_step: response.capture_response_step,
        Activity.apply_response_step: response.apply_response_step,
        Activity.store_evidence: response.store_evidence,
        Activity.plan_response_gate: response.plan_response_gate,
        Activity.notify_response: response.notify_response,
        Activity.ticket_response: response.ticket_response,
        Activity.ask_person: questions.ask_person,
    }


def build_worker(
    client: Client,
    context: WorkerContext,
    *,
    task_queue: str = TASK_QUEUE,
    roles: Sequence[Role] = ALL_ROLES,
) -> WorkerGroup:
    """Workers for `roles` (default: all) of the deployment whose workflows run on `task_queue`."""
    implementations = activities_by_name(context)
    # one per process: the tenant limits all workers share (vendor windows, write budget and concurrency)
    limits = TenantLimitsInterceptor(TenantLimits(context.database), context.settings)
    telemetry = [WorkerTelemetry(context.database)]  # log context, timings, SSPM facts (tracing: from the client)
    workers: list[Worker] = []
    if Role.scan in roles or Role.remediation in roles:
        beside = [implementations[a] for a in implementations if a not in ROLE_OF or a in LOCAL]
        workers.append(
            Worker(
                client,
                task_queue=task_queue,
                workflows=list(WORKFLOWS),
                activities=beside,
                interceptors=[*telemetry, limits],
            )
        )
    for role in ALL_ROLES:
        if role in roles:
            mine = [implementations[a] for a, r in ROLE_OF.items() if r is role]
            workers.append(
                Worker(
                    client,
                    task_queue=role_queue(task_queue, role),
                    activities=mine,
                    max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
                    interceptors=[*telemetry, limits],
                )
            )
    return WorkerGroup(workers)
