"""Remediation activities: plan, prepare a page (fresh reads + capture), change a chunk (apply + verify each),
restore, settle, and the journal of written changes that a long campaign carries across continue-as-new.

Each is safe to run twice: writes happen only when the current state differs from the target, so an activity
retried after a worker crash never changes a resource twice (a change's first attempt may write from the capture
its page took, without reading again; every retry reads first). Per target, a campaign reads the resource once to
prepare (rule + capture) and once to verify (rule + fields), where the action's fields sit in the resource.

Every activity that can wait heartbeats: per target done, and inside the HTTP layer's rate-limit waits
(`heartbeat_while_waiting`), so a vendor window longer than the heartbeat timeout does not kill the attempt.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from temporalio import activity

from mendflow.connectors.actions import FieldAction
from mendflow.connectors.http import heartbeat_while_waiting
from mendflow.connectors.registry import Collector, Session, get_action, open_session
from mendflow.errors import (
    ActionError,
    AuthError,
    ConnectionProblem,
    InputError,
    MendflowError,
    RateLimited,
    VendorError,
)
from mendflow.evidence.changes import ChangeRecord, record_changes
from mendflow.findings.store import FindingStatus
from mendflow.models import Change, Outcome, Resource, fingerprint
from mendflow.playbooks.model import GATED_MODES, Playbook
from mendflow.rules import RuleSet, compile_rules
from mendflow.rules.demand import Demand
from mendflow.runtime.limits import write_schedule
from mendflow.telemetry.tracing import step_span
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import (
    CampaignPlanDetail,
    CampaignTarget,
    ChangesInput,
    ChangesResult,
    ChangeStep,
    JournalEntry,
    JournalInput,
    JournalPage,
    PlanInput,
    PrepareInput,
    PrepareResult,
    SettleInput,
    StepOutcome,
    StoreTargetsInput,
    Target,
    TargetsPage,
    WindowInput,
    WindowVerdict,
)

from .failures import cannot_retry
from .heartbeats import beat_while_waiting

T = TypeVar("T")
ATTEMPTS = 5
"""Tries of one change in a chunk when the error is transient (as `RETRY` tries a whole activity)."""
BEAT_EVERY = 1.0
"""Seconds between two progress heartbeats of a page (far below any heartbeat timeout)."""
R = TypeVar("R")


async def _each(items: list[T], limit: int, work: Callable[[T], Awaitable[R]]) -> list[R]:
    """`work` on every item, at most `limit` at once, heartbeating as items finish (at most every `BEAT_EVERY`
    seconds: each heartbeat costs a payload encoding and a call into the SDK core); results in item order."""
    gate = asyncio.Semaphore(max(limit, 1))
    done = 0
    beaten = float("-inf")

    async def one(item: T) -> R:
        nonlocal done, beaten
        async with gate:
            result = await work(item)
        done += 1
        if time.monotonic() - beaten >= BEAT_EVERY or done == len(items):
            beaten = time.monotonic()
            activity.heartbeat({"done": done, "of": len(items)})
        return result

    return await asyncio.gather(*(one(item) for item in items))


class RemediationActivities:
    def __init__(self, context: WorkerContext) -> None:
        self.ctx = context
        self._rules: dict[tuple[str, str], tuple[RuleSet, Demand]] = {}

    def _action(self, playbook: Playbook) -> FieldAction:
        if playbook.respond is None:
            raise ActionError(f"playbook {playbook.id} has no action")
        return get_action(playbook.respond.action)

    def _rules_for(self, playbook: Playbook, tenant_key: str) -> tuple[RuleSet, Demand]:
        """The playbook's rule with the tenant's policy, compiled once per tenant, playbook and worker (not per
        target), and what it demands of a re-read."""
        key = (tenant_key, playbook.id)
        known = self._rules.get(key)
        if known is None:
            rules = compile_rules([self.ctx.playbook(playbook.id, tenant_key)])
            known = self._rules[key] = (rules, Demand(rules))
        return known

    async def _reread(self, collector: Collector, playbook: Playbook, step: ChangeStep) -> Resource | None:
        """The resource as the vendor has it now (None: gone), with only the facts about other objects (a hook's
        repository) that the rule can use: one request per target where the rule needs nothing else."""
        _, demand = self._rules_for(playbook, step.tenant_key)
        return await collector.fetch(step.resource, demand)

    def _fires(self, playbook: Playbook, step: ChangeStep, resource: Resource) -> bool:
        """Does the playbook's rule still flag the resource as read? Decided without building a finding (its
        evidence is not needed here); an undecidable rule is evaluated in full for its reason, and raised."""
        rules, _ = self._rules_for(playbook, step.tenant_key)
        as_of = datetime.now(UTC)
        decide = rules.decider(resource.type, as_of)
        decisions = () if decide is None else decide(resource.data, resource.related)
        if all(d is True or d is False for d in decisions):
            return any(d is True for d in decisions)
        connection = self.ctx.registry.get(step.tenant_key)
        result = rules.evaluate([resource], tenant=connection.tenant, provider=connection.provider, as_of=as_of)
        message = result.errors[0].message if result.errors else "the rule decided neither true nor false"
        raise ActionError(f"rule {playbook.id} cannot be evaluated on {step.resource.id}: {message}")

    async def _prepare_one(self, session: Session, playbook: Playbook, step: ChangeStep) -> Change:
        """Fresh before acting: skip a resource already fixed or gone; capture the prior state otherwise (from the
        same re-read when the action's fields sit in the resource's object)."""
        action = self._action(playbook)
        assert playbook.respond is not None
        params = playbook.respond.action_params()
        change = Change(resource=step.resource, action=action.spec.name, after=params.as_body())
        try:
            with step_span("prepare", action.spec.name):
                resource = await self._reread(session.collector, playbook, step)
                if resource is None or not self._fires(playbook, step, resource):
                    return change.model_copy(
                        update={"outcome": Outcome.skipped, "detail": "already compliant or gone when re-read"}
                    )
                before = action.fields_in(resource.data, list(change.after))
            if before is None:
                before = await action.capture(session.http, step.resource.id, params)
        except (ActionError, AuthError, InputError) as err:
            # This target cannot be changed; the others of the page still can (the workflow counts the failure).
            return change.model_copy(update={"outcome": Outcome.failed, "detail": str(err)})
        return change.model_copy(update={"before": before})

    async def _read_back(
        self, session: Session, action: FieldAction, playbook: Playbook, step: ChangeStep
    ) -> tuple[dict[str, Any] | None, bool]:
        """After the write: the action's fields as read back (None: the resource is gone) and whether the rule
        still fires. One re-read serves both where the fields sit in the resource's object; otherwise the fields
        are read at once beside it (independent reads: a change waits on the vendor, not on CPU)."""
        assert step.change is not None
        names = list(step.change.after)
        if action.of_object is None:
            current, resource = await asyncio.gather(
                action.current(session.http, step.resource.id, names),
                self._reread(session.collector, playbook, step),
            )
            return current, resource is not None and self._fires(playbook, step, resource)
        with step_span("verify", action.spec.name):
            resource = await self._reread(session.collector, playbook, step)
        if resource is None:
            return None, False
        return action.fields_in(resource.data, names), self._fires(playbook, step, resource)

    @activity.defn(name="prepare_changes")
    async def prepare_changes(self, request: PrepareInput) -> PrepareResult:
        """A page of targets re-read and captured, `concurrency` at once, on one session (one HTTP client)."""
        try:
            playbook = self.ctx.playbook(request.playbook_id)
            self._action(playbook)
        except (ActionError, InputError) as err:
            raise cannot_retry(err) from None
        with heartbeat_while_waiting(beat_while_waiting):
            async with open_session(self.ctx.registry.get(request.tenant_key)) as session:
                changes = await _each(
                    request.targets,
                    request.concurrency,
                    lambda target: self._prepare_one(session, playbook, _step_for(request, target)),
                )
        return PrepareResult(changes=changes)

    async def _apply_one(self, session: Session, playbook: Playbook, step: ChangeStep, *, retry: bool) -> StepOutcome:
        """Write the intended fields (only if they differ), then verify: the fields read back as intended AND the
        rule no longer fires. Raises what the vendor or the action refused; records nothing."""
        assert step.change is not None
        change = step.change
        action = get_action(change.action)
        captured = change.before if set(change.before) == set(change.after) else None
        await action.write_captured(session.http, step.resource.id, captured, change.after, retry=retry)
        current, still = await self._read_back(session, action, playbook, step)
        if current != change.after:
            shows = "the resource gone" if current is None else str(current)
            return StepOutcome(outcome=Outcome.failed, detail=f"re-read shows {shows}, not the intended state")
        if still:
            return StepOutcome(outcome=Outcome.failed, detail=f"rule {playbook.id} still fires after the change")
        return StepOutcome(outcome=Outcome.verified)

    @activity.defn(name="change_resource")
    async def change_resource(self, step: ChangeStep) -> StepOutcome:
        """One change applied and verified (campaigns started before `apply_changes` existed still call this).
        Safe to repeat: a retry after a crash finds the write done and only verifies."""
        try:
            playbook = self.ctx.playbook(step.playbook_id)
            with heartbeat_while_waiting(beat_while_waiting):
                async with open_session(self.ctx.registry.get(step.tenant_key)) as session:
                    outcome = await self._apply_one(session, playbook, step, retry=activity.info().attempt > 1)
        except (ActionError, AuthError, InputError) as err:
            raise cannot_retry(err) from None
        return await self._recorded(step, outcome)

    @activity.defn(name="apply_changes")
    async def apply_changes(self, request: ChangesInput) -> ChangesResult:
        """A chunk of changes applied and verified, `concurrency` at once, on one session (one HTTP client).

        A change the vendor or the action refuses fails alone (the workflow restores it and counts the failure);
        a transient error (no answer, 5xx, a rate-limit window too long to wait) is tried again here, reading
        first, up to `ATTEMPTS` times. Once more than `failures_allowed` changes failed, no further one starts (on a
        first attempt: a retry applies every change not on the record, which its dead attempt may have written).
        Outcomes are recorded (audit chain, ledger) in batches, at most `BEAT_EVERY` apart and at the end, and
        each batch is then named in a heartbeat, so a retry of the chunk (its worker died) skips what is on the
        record and re-reads before writing the rest.
        """
        try:
            playbook = self.ctx.playbook(request.playbook_id)
        except InputError as err:
            raise cannot_retry(err) from None
        info = activity.info()
        done: dict[int, StepOutcome] = _outcomes_beaten(info.heartbeat_details)
        first_attempt = info.attempt == 1
        failures = sum(1 for o in done.values() if o.outcome != Outcome.verified)
        schedule = write_schedule()  # the tenant's shared limits: how many at once, when each write may go out
        gate = asyncio.Semaphore(max(schedule.slots if schedule else request.concurrency, 1))
        beaten = float("-inf")

        pending: dict[int, tuple[ChangeStep, StepOutcome]] = {}
        flushing = asyncio.Lock()
        flushed = time.monotonic()

        def beat(force: bool = False, waiting: float | None = None) -> None:
            """Heartbeat the recorded outcomes (every heartbeat carries them: the last one is what a retry gets)."""
            nonlocal beaten
            if force or waiting is not None or time.monotonic() - beaten >= BEAT_EVERY:
                beaten = time.monotonic()
                details: dict[str, Any] = {"done": {str(i): o.model_dump(mode="json") for i, o in done.items()}}
                if waiting is not None:
                    details["waiting_s"] = round(waiting, 1)
                activity.heartbeat(details)

        async def flush() -> None:
            """Record what is pending (one batch), then name it done in a heartbeat."""
            nonlocal flushed
            async with flushing:
                batch, flushed = dict(pending), time.monotonic()
                pending.clear()
                await self._record_all([(step, outcome, None) for step, outcome in batch.values()])
                done.update({i: outcome for i, (_, outcome) in batch.items()})
                beat(force=True)

        async def one(index: int, change: Change, session: Session) -> None:
            nonlocal failures
            async with gate:
                # Past the failures, no change starts -- on a first attempt only: on a retry, a change not on the
                # record may have been written by the dead attempt, and one reported None leaves the rollback order.
                if first_attempt and failures > request.failures_allowed:
                    return
                step = ChangeStep(
                    tenant_key=request.tenant_key,
                    playbook_id=request.playbook_id,
                    resource=change.resource,
                    change=change,
                )
                if schedule is not None:
                    await schedule.before_write(index, lambda left: beat(waiting=left))
                outcome = await self._attempts(session, playbook, step, first=first_attempt, beat=beat)
            if outcome.outcome != Outcome.verified:
                failures += 1
            pending[index] = (step, outcome)
            if time.monotonic() - flushed >= BEAT_EVERY and not flushing.locked():
                await flush()

        with heartbeat_while_waiting(lambda left: beat(waiting=left)):
            async with open_session(self.ctx.registry.get(request.tenant_key)) as session, asyncio.TaskGroup() as tasks:
                for index, change in enumerate(request.changes):
                    if index not in done:
                        tasks.create_task(one(index, change, session))
        await flush()
        return ChangesResult(outcomes=[done.get(i) for i in range(len(request.changes))])

    async def _attempts(
        self, session: Session, playbook: Playbook, step: ChangeStep, *, first: bool, beat: Callable[[], None]
    ) -> StepOutcome:
        """One change, tried again (reading first) while the error is transient; refusals fail it at once."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await self._apply_one(session, playbook, step, retry=not first or attempt > 1)
            except MendflowError as err:
                if attempt == ATTEMPTS or not _transient(err):
                    return StepOutcome(outcome=Outcome.failed, detail=str(err))
                activity.logger.warning("change of %s failed, trying again: %s", step.resource.id, err)
            beat()
            await asyncio.sleep(min(2 ** (attempt - 1), 30))
        raise AssertionError("unreachable")

    def _fingerprint(self, step: ChangeStep) -> str:
        tenant = self.ctx.registry.get(step.tenant_key).tenant
        return fingerprint(tenant, step.playbook_id, step.resource.id)

    async def _recorded(self, step: ChangeStep, outcome: StepOutcome, change: Change | None = None) -> StepOutcome:
        """Put one write (or, with `change`, a restore) on the record: see `_record_all`."""
        await self._record_all([(step, outcome, change)])
        return outcome

    async def _record_all(self, entries: list[tuple[ChangeStep, StepOutcome, Change | None]]) -> None:
        """Append the writes (or restores) to the audit chain with their before/after digests: evidence of each
        change; a verified change also marks its finding fixed by mendflow (the ledger's reason when it
        resolves, not a person's fix, not a skip). Many at once cost a few transactions, not a few each. In a
        thread: the database's round trips must not hold up the worker's event loop, which serves every other
        activity and workflow task meanwhile."""
        if not entries:
            return
        campaign_id = activity.info().workflow_id or ""
        tenant_key = entries[0][0].tenant_key
        records: list[ChangeRecord] = []
        verified: list[str] = []
        for step, outcome, change in entries:
            written = change or step.change
            assert written is not None
            found = self._fingerprint(step)
            if outcome.outcome == Outcome.verified and change is None:
                verified.append(found)
            records.append(
                ChangeRecord(
                    tenant_key=step.tenant_key,
                    fingerprint=found,
                    change=written,
                    result=outcome.outcome,
                    detail=outcome.detail,
                )
            )

        def record() -> None:
            if verified:
                self.ctx.ledger.mark_verified_many(verified, campaign=campaign_id, tenant=tenant_key)
            record_changes(self.ctx.audit, self.ctx.snapshots, campaign_id=campaign_id, entries=records)

        await asyncio.to_thread(record)

    @activity.defn(name="restore_change")
    async def restore_change(self, step: ChangeStep) -> Change:
        """Put the captured prior state back and check it by re-reading."""
        assert step.change is not None
        change = step.change
        action = get_action(change.action)
        with heartbeat_while_waiting(beat_while_waiting):
            async with open_session(self.ctx.registry.get(step.tenant_key)) as session:
                await action.restore(session.http, step.resource.id, change.before)
                if await action.holds(session.http, step.resource.id, change.before):
                    done = change.model_copy(
                        update={"outcome": Outcome.restored, "detail": f"restored: {change.detail}"}
                    )
                else:
                    done = change.model_copy(
                        update={
                            "outcome": Outcome.restore_failed,
                            "detail": "re-read after restore differs from the capture",
                        }
                    )
        # a restore writes the captured state back: its before is what the change wrote
        undo = change.model_copy(update={"before": change.after, "after": change.before})
        await self._recorded(step, StepOutcome(outcome=done.outcome, detail=done.detail), undo)
        return done

    @activity.defn(name="plan_campaign")
    async def plan_campaign(self, request: PlanInput) -> CampaignPlanDetail:
        """Resolve the playbook's policies and the RBAC config into a plan, and preview the first targets' change
        for whoever approves it (read in parallel; the rest are read page by page when the rollout reaches them).
        An auto campaign's preview names the targets and what will be written without reading them: nobody
        reviews it, and the rollout reads every target before it writes anyway."""
        concurrency = self.ctx.settings.changes.concurrency_for(request.tenant_key)
        try:
            playbook = self.ctx.playbook(request.playbook_id)
            respond = playbook.respond
            if respond is None:
                raise ActionError(f"playbook {playbook.id} has no response to run")
            action = get_action(respond.action)
            params = respond.action_params()
            intended = params.as_body()
            with heartbeat_while_waiting(beat_while_waiting):
                async with open_session(self.ctx.registry.get(request.tenant_key)) as session:

                    async def preview(target: CampaignTarget) -> Target:
                        if playbook.mode not in GATED_MODES:  # nobody reviews an auto campaign's preview
                            return Target(
                                fingerprint=target.fingerprint, resource=target.resource, current={}, intended=intended
                            )
                        try:
                            current = await action.current(session.http, target.resource.id, list(intended))
                        except VendorError as err:
                            current = {"_unreadable": str(err)}
                        return Target(
                            fingerprint=target.fingerprint, resource=target.resource, current=current, intended=intended
                        )

                    targets = await _each(request.preview, concurrency, preview)
        except (ActionError, AuthError, InputError) as err:
            raise cannot_retry(err) from None
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
            target_count=request.target_count,
            concurrency=concurrency,
            published=playbook.mode in GATED_MODES
            and (self.ctx.settings.slack is not None or self.ctx.settings.jira is not None),
            trusted_keys=dict(self.ctx.settings.security.trusted_keys),  # the worker's config, never the input
        )

    @activity.defn(name="check_change_window")
    async def check_change_window(self, request: WindowInput) -> WindowVerdict:
        """Is a freeze window in force for writes right now? If so, until when."""
        policy = self.ctx.settings.changes
        until = policy.frozen_until(request.at)
        if until is not None:
            return WindowVerdict(hold_until=until, reason="freeze window")
        return WindowVerdict(hold_until=None, open_until=policy.open_until(request.at))

    @activity.defn(name="settle_findings")
    async def settle_findings(self, request: SettleInput) -> None:
        """Record the campaign's outcome per finding in the ledger."""
        statuses = {fp: FindingStatus(status) for fp, status in request.statuses.items()}
        # In a thread: a page's writes must not hold up the worker's event loop (other activities, workflow tasks).
        await asyncio.to_thread(self.ctx.ledger.settle, statuses, request.campaign_id)

    @activity.defn(name="load_targets")
    async def load_targets(self, page: TargetsPage) -> list[CampaignTarget]:
        """One page of a campaign's targets from its findings (or targets) stored by digest."""
        lines = itertools.islice(self.ctx.snapshots.read_lines(page.digest), page.offset, page.offset + page.limit)
        return [CampaignTarget(fingerprint=line["fingerprint"], resource=line["resource"]) for line in lines]

    @activity.defn(name="store_targets")
    async def store_targets(self, request: StoreTargetsInput) -> str:
        """Put a campaign's targets into the snapshot store (before continuing as new); returns the digest."""
        return self.ctx.snapshots.put_lines([t.model_dump(mode="json") for t in request.targets])

    @activity.defn(name="store_journal")
    async def store_journal(self, request: JournalInput) -> str:
        """Keep one run's written changes (the rollback state) in the snapshot store; returns the digest."""
        return self.ctx.snapshots.put_lines([e.model_dump(mode="json") for e in request.entries])

    @activity.defn(name="load_journal")
    async def load_journal(self, digest: str) -> JournalPage:
        """The changes one earlier run wrote, in write order (the workflow restores them newest first)."""
        return JournalPage(
            entries=[JournalEntry.model_validate(line) for line in self.ctx.snapshots.read_lines(digest)]
        )


def _transient(err: MendflowError) -> bool:
    """Worth trying again: the vendor did not answer, answered 5xx, or asked for a wait too long to take here.
    A refusal (4xx, a missing permission, an action that cannot apply) is not."""
    if isinstance(err, ConnectionProblem | RateLimited):
        return True
    return isinstance(err, VendorError) and not isinstance(err, AuthError) and (err.status >= 500 or err.status == 429)


def _outcomes_beaten(details: Sequence[Any]) -> dict[int, StepOutcome]:
    """The outcomes an earlier attempt of a chunk recorded and heartbeated (empty on the first attempt)."""
    if not details or not isinstance(details[0], dict):
        return {}
    beaten = details[0].get("done") or {}
    return {int(i): StepOutcome.model_validate(o) for i, o in beaten.items()}


def _step_for(request: PrepareInput, target: CampaignTarget) -> ChangeStep:
    return ChangeStep(tenant_key=request.tenant_key, playbook_id=request.playbook_id, resource=target.resource)
