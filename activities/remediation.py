"""Remediation activities: prepare (fresh read + capture), apply, verify, restore, settle.

Each is safe to run twice: writes happen only when the current state differs from the target, so an activity
retried after a worker crash never changes a resource twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from mendflow.connectors.actions import FieldAction
from mendflow.connectors.registry import Collector, get_action, open_session
from mendflow.errors import ActionError, AuthError, InputError, VendorError
from mendflow.findings_store import FindingStatus
from mendflow.models import Change, Outcome, Resource
from mendflow.playbook import Playbook
from mendflow.rules import compile_rules
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import (
    CampaignPlanDetail,
    ChangeStep,
    RemediationInput,
    SettleInput,
    Target,
    WindowInput,
    WindowVerdict,
)


def _non_retryable(err: Exception) -> ApplicationError:
    return ApplicationError(str(err), type=type(err).__name__, non_retryable=True)


class RemediationActivities:
    def __init__(self, context: WorkerContext) -> None:
        self.ctx = context

    def _action(self, playbook: Playbook) -> FieldAction:
        if playbook.respond is None:
            raise ActionError(f"playbook {playbook.id} has no action")
        return get_action(playbook.respond.action)

    async def _still_failing(self, collector: Collector, playbook: Playbook, step: ChangeStep) -> Resource | None:
        """Re-read the resource and re-evaluate the rule: the resource if the finding still holds."""
        resource = await collector.fetch(step.resource)
        if resource is None:
            return None
        connection = self.ctx.registry.get(step.tenant_key)
        result = compile_rules([playbook]).evaluate(
            [resource], tenant=connection.tenant, provider=connection.provider, as_of=datetime.now(UTC)
        )
        if result.errors:
            raise ActionError(
                f"rule {playbook.id} cannot be evaluated on {step.resource.id}: {result.errors[0].message}"
            )
        return resource if result.findings else None

    @activity.defn(name="prepare_change")
    async def prepare_change(self, step: ChangeStep) -> Change:
        """Fresh before acting: skip resources already fixed or gone; capture the prior state of the rest."""
        try:
            playbook = self.ctx.playbook(step.playbook_id)
            action = self._action(playbook)
            assert playbook.respond is not None
            params = playbook.respond.action_params()
            async with open_session(self.ctx.registry.get(step.tenant_key)) as session:
                change = Change(resource=step.resource, action=action.spec.name, after=params.as_body())
                if await self._still_failing(session.collector, playbook, step) is None:
                    return change.model_copy(
                        update={"outcome": Outcome.skipped, "detail": "already compliant or gone when re-read"}
                    )
                before = await action.capture(session.http, step.resource.id, params)
                return change.model_copy(update={"before": before})
        except (ActionError, AuthError, InputError) as err:
            raise _non_retryable(err) from None

    @activity.defn(name="apply_change")
    async def apply_change(self, step: ChangeStep) -> Change:
        """Write the intended fields (only if they differ from the current ones)."""
        assert step.change is not None
        try:
            action = get_action(step.change.action)
            async with open_session(self.ctx.registry.get(step.tenant_key)) as session:
                wrote = await action.write(session.http, step.resource.id, step.change.after)
        except (ActionError, AuthError, InputError) as err:
            raise _non_retryable(err) from None
        detail = "" if wrote else "already in the intended state"
        return step.change.model_copy(update={"outcome": Outcome.applied, "detail": detail})

    @activity.defn(name="verify_change")
    async def verify_change(self, step: ChangeStep) -> Change:
        """Re-read the resource: the fields must hold their intended values and the rule must no longer fire."""
        assert step.change is not None
        try:
            playbook = self.ctx.playbook(step.playbook_id)
            action = get_action(step.change.action)
            async with open_session(self.ctx.registry.get(step.tenant_key)) as session:
                if not await action.holds(session.http, step.resource.id, step.change.after):
                    current = await action.current(session.http, step.resource.id, list(step.change.after))
                    return step.change.model_copy(
                        update={"outcome": Outcome.failed, "detail": f"re-read shows {current}, not the intended state"}
                    )
                if await self._still_failing(session.collector, playbook, step) is not None:
                    return step.change.model_copy(
                        update={"outcome": Outcome.failed, "detail": f"rule {playbook.id} still fires after the change"}
                    )
        except (ActionError, AuthError, InputError) as err:
            raise _non_retryable(err) from None
        return step.change.model_copy(update={"outcome": Outcome.verified, "detail": ""})

    @activity.defn(name="restore_change")
    async def restore_change(self, step: ChangeStep) -> Change:
        """Put the captured prior state back and check it by re-reading."""
        assert step.change is not None
        change = step.change
        action = get_action(change.action)
        async with open_session(self.ctx.registry.get(step.tenant_key)) as session:
            await action.restore(session.http, step.resource.id, change.before)
            if await action.holds(session.http, step.resource.id, change.before):
                return change.model_copy(update={"outcome": Outcome.restored, "detail": f"restored: {change.detail}"})
            return change.model_copy(
                update={"outcome": Outcome.restore_failed, "detail": "re-read after restore differs from the capture"}
            )

    @activity.defn(name="plan_campaign")
    async def plan_campaign(self, request: RemediationInput) -> CampaignPlanDetail:
        """Resolve the playbook's policies and the RBAC config into a plan, and preview each target's change."""
        try:
            playbook = self.ctx.playbook(request.playbook_id)
            respond = playbook.respond
            if respond is None:
                raise ActionError(f"playbook {playbook.id} has no response to run")
            action = get_action(respond.action)
            params = respond.action_params()
            intended = params.as_body()
            targets: list[Target] = []
            async with open_session(self.ctx.registry.get(request.tenant_key)) as session:
                for finding in request.findings:
                    try:
                        current = await action.current(session.http, finding.resource.id, list(intended))
                    except VendorError as err:
                        current = {"_unreadable": str(err)}
                    targets.append(
                        Target(
                            fingerprint=finding.fingerprint,
                            resource=finding.resource,
                            current=current,
                            intended=intended,
                        )
                    )
        except (ActionError, AuthError, InputError) as err:
            raise _non_retryable(err) from None
        rbac = self.ctx.settings.rbac
        severity = playbook.detect.severity
        approval, rollout = respond.approval, respond.rollout
        return CampaignPlanDetail(
            campaign_id=request.campaign_id,
            tenant_key=request.tenant_key,
            playbook_id=playbook.id,
            title=playbook.title,
            severity=severity,
            compliance=list(playbook.detect.compliance),
            mode=playbook.mode.value,
            action=respond.action,
            reversible=action.spec.reversible,
            targets=targets,
            approvers=list(rbac.approvers_for(playbook.id, severity, approval.approvers)),
            required_approvals=rbac.required_for(severity, approval.required),
            approval_timeout=approval.timeout,
            escalate_after=approval.escalate_after,
            escalate_to=approval.escalate_to,
            canary=rollout.canary,
            batches=list(rollout.batches),
            bake=rollout.bake,
            max_failures=rollout.max_failures,
            writes_per_minute=self.ctx.settings.changes.budget_for(request.tenant_key),
            trusted_keys=dict(self.ctx.settings.security.trusted_keys),  # the worker's config, never the input
        )

    @activity.defn(name="check_change_window")
    async def check_change_window(self, request: WindowInput) -> WindowVerdict:
        """Is a freeze window in force for writes right now? If so, until when."""
        until = self.ctx.settings.changes.frozen_until(request.at)
        return WindowVerdict(hold_until=until, reason="" if until is None else "freeze window")

    @activity.defn(name="settle_findings")
    async def settle_findings(self, request: SettleInput) -> None:
        """Record the campaign's outcome per finding in the ledger."""
        statuses = {fp: FindingStatus(status) for fp, status in request.statuses.items()}
        self.ctx.ledger.settle(statuses, request.campaign_id)
