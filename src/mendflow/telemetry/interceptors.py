"""Worker interceptors: context for logs and spans, activity timings, SSPM facts, campaign outcomes.

One place instead of a line in every activity and workflow:
- each activity runs with its tenant, playbook, action, finding and resource bound to structlog's context
  variables (every log line it writes carries them) and set as the `WorkScope` its spans carry; its duration is
  recorded by activity and outcome; after the scan and settle activities the SSPM facts are written
  (`telemetry.scan_facts`);
- each workflow run's own log lines carry its tenant, playbook and finding;
- each campaign workflow records its outcome when it settles in a finished state and how long its approval gate
  waited when a decision ends it, never while replaying (history replays must not count twice).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio import activity, workflow
from temporalio.exceptions import CancelledError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    HandleUpdateInput,
    Interceptor,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from mendflow.store import Database
from mendflow.telemetry import metrics, scan_facts
from mendflow.telemetry.logs import get_logger
from mendflow.telemetry.tracing import WorkScope, scoped
from mendflow.workflows.remediation import FINISHED

log = get_logger(__name__)

CAMPAIGN_WORKFLOW = "RemediationWorkflow"
DECIDE_UPDATE = "decide"
STATUS_QUERY = "status"
SETTLE_ACTIVITY = "settle_findings"
DECIDED = {"approved": "approve", "rejected": "reject"}


def scope_of(argument: Any) -> WorkScope:
    """What an activity's input model says it works on (fields absent from the model do not apply)."""
    change = getattr(argument, "change", None)
    resource = getattr(argument, "resource", None)
    return WorkScope(
        tenant=getattr(argument, "tenant_key", None),
        playbook=getattr(argument, "playbook_id", None),
        action=getattr(change, "action", None) or getattr(argument, "action", None),
        fingerprint=getattr(argument, "fingerprint", None),
        resource=getattr(resource, "id", None),
    )


class _ActivityTelemetry(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, database: Database | None) -> None:
        super().__init__(next)
        self._database = database

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        argument = input.args[0] if input.args else None
        scope = scope_of(argument)
        context = {
            "tenant": scope.tenant,
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "activity": info.activity_type,
            "finding": scope.fingerprint,
            "playbook": scope.playbook,
        }
        started = time.perf_counter()
        outcome = "completed"
        try:
            with structlog.contextvars.bound_contextvars(**{k: v for k, v in context.items() if v}), scoped(scope):
                result = await super().execute_activity(input)
        except (CancelledError, asyncio.CancelledError):
            outcome = "cancelled"
            raise
        except BaseException as err:
            outcome = type(err).__name__
            raise
        finally:
            metrics.record_activity(time.perf_counter() - started, activity=info.activity_type, outcome=outcome)
        if self._database is not None:
            try:
                self._record_facts(info.activity_type, argument, result)
            except Exception as err:  # metrics must never fail (and so repeat) the work they describe
                log.warning("telemetry facts not recorded", activity=info.activity_type, error=type(err).__name__)
        return result

    def _record_facts(self, name: str, argument: Any, result: Any) -> None:
        assert self._database is not None
        tenant = getattr(argument, "tenant_key", None)
        if tenant is None:
            return
        if name == "collect_inventory":
            scan_facts.record_inventory(
                self._database,
                tenant,
                resources=result.resources,
                expected=result.collections_expected,
                read=result.collections_read,
            )
        elif name == "reconcile_findings":
            scan_facts.record_reconciled(
                self._database, tenant, seen_at=argument.seen_at, complete=getattr(argument, "complete", True)
            )
        elif name == "settle_findings":
            scan_facts.record_settled(self._database, tenant, argument.statuses, now=datetime.now(UTC))


class _CampaignTelemetry(WorkflowInboundInterceptor):
    """Campaign outcomes and approval wait, recorded outside replay.

    An outcome is counted when the campaign settles its ledger in a finished state (the end of its rollout, not
    the end of its retention window days later); a later rollback settles again and counts `rolled_back`.
    """

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        self._playbook = "unknown"
        self._decided = False
        self._counted: set[str] = set()
        self._campaign = False
        """Whether this run is a campaign (set once inside the run: `count` may be reached where the workflow's
        context is gone, e.g. while the worker evicts the run, so it must not ask `workflow.info()`)."""
        super().init(_SettleWatch(outbound, self))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        argument = input.args[0] if input.args else None
        scope = scope_of(argument)
        bound = {"tenant": scope.tenant, "playbook": scope.playbook, "finding": scope.fingerprint}
        # The run's own log lines (workflow.logger) carry what it works on; not a side effect, so replay-safe.
        with structlog.contextvars.bound_contextvars(**{k: v for k, v in bound.items() if v}):
            return await self._execute(input)

    async def _execute(self, input: ExecuteWorkflowInput) -> Any:
        if workflow.info().workflow_type != CAMPAIGN_WORKFLOW:
            return await super().execute_workflow(input)
        self._playbook = (getattr(input.args[0], "playbook_id", None) if input.args else None) or "unknown"
        self._campaign = True
        try:
            return await super().execute_workflow(input)
        except (workflow.ContinueAsNewError, asyncio.CancelledError):
            raise
        except Exception:  # a failed run; an eviction (a BaseException, outside the workflow's loop) is not one
            self.count("error")
            raise

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        result = await super().handle_update_handler(input)
        if input.update == DECIDE_UPDATE and not self._decided:
            verdict = DECIDED.get(getattr(result, "state", ""))
            if verdict is not None:
                self._decided = True
                waited = (workflow.now() - workflow.info().start_time).total_seconds()
                playbook = self._playbook
                _outside_replay(lambda: metrics.record_approval_wait(waited, playbook=playbook, verdict=verdict))
        return result

    def settling(self) -> None:
        """The campaign is about to settle its ledger: count its outcome if it has finished."""
        status = workflow.get_query_handler(STATUS_QUERY)
        state = getattr(status(), "state", None) if status is not None else None
        if isinstance(state, str) and state in FINISHED:
            self.count(state)

    def count(self, outcome: str) -> None:
        if not self._campaign or outcome in self._counted:
            return
        self._counted.add(outcome)
        playbook = self._playbook
        _outside_replay(lambda: metrics.record_campaign(playbook=playbook, outcome=outcome))


class _SettleWatch(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, campaign: _CampaignTelemetry) -> None:
        super().__init__(next)
        self._campaign = campaign

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        if input.activity == SETTLE_ACTIVITY:
            self._campaign.settling()
        return super().start_activity(input)


def _outside_replay(record: Callable[[], None]) -> None:
    """Metrics are a side effect: a replayed history must not count again."""
    if workflow.unsafe.is_replaying():
        return
    with workflow.unsafe.sandbox_unrestricted():
        record()


class WorkerTelemetry(Interceptor):
    """The worker's telemetry interceptor; `database`: where SSPM facts go (None: record none)."""

    def __init__(self, database: Database | None = None) -> None:
        self.database = database

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityTelemetry(next, self.database)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _CampaignTelemetry
