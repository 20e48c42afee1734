"""RemediationWorkflow: one campaign = one playbook's findings in one tenant from one scan.

    plan ─> approval gate? (escalate, expire) ─> change window ─> page by page: capture (parallel fresh re-reads)
        ─> canary ─> apply + verify in chunks (one activity per chunk of a few rounds of the tenant's
        concurrency, paced by the write budget; a capture gone stale is taken again first) ─> bake ─> next batch
        … ─> settle ─> keep rollback state for the retention window
    on failures > max_failures, abort+rollback, or a `rollback` request: restore newest first, verify each restore.

Decisions and operator controls are Temporal updates with validators, so a caller learns at once whether its
request counted; a refused request changes nothing and is not written to history.

History stays bounded at any campaign size: targets are read, captured and settled in pages; the publisher sends
a few bytes (the publish activity renders the card from a status query, which history does not record); and at a
page boundary once this run's history passes `history_budget_bytes`, the campaign continues as new with its state
carried over (`CampaignCarry`). Changes written by earlier runs are journalled in the snapshot store by digest, so
a rollback still restores every one of them, newest first, and the retention window keeps its absolute end.
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    # Verifying a proof is pure and deterministic; `cryptography` cannot be imported inside the sandbox.
    from mendflow.auth.refusals import refusal_logged
    from mendflow.campaigns.rollout import split_batches
    from mendflow.connectors.http import WORST_REQUEST_SECONDS
    from mendflow.findings.store import FindingStatus
    from mendflow.models import Change, Decision, DecisionOutcome, Outcome, ResourceRef, Verdict
    from mendflow.playbooks.model import GATED_MODES
    from mendflow.routing import Activity
    from mendflow.workflow_types import (
        CampaignCarry,
        CampaignPlanDetail,
        CampaignStatus,
        CampaignTarget,
        ChangesInput,
        ChangesResult,
        ChangeStep,
        EscalationInput,
        JournalEntry,
        JournalInput,
        JournalPage,
        OperatorRequest,
        PlanInput,
        PrepareInput,
        PrepareResult,
        PublishInput,
        PublishRefs,
        RemediationInput,
        RemediationResult,
        SettleInput,
        StepOutcome,
        StoreTargetsInput,
        TargetsPage,
        WindowInput,
        WindowVerdict,
    )

from .controls import RETRY, Controls, cause, restore

SHORT = timedelta(minutes=1)
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=8
)
REQUESTS_PER_STEP = 6
"""Most vendor requests one change, capture or restore makes (reads, the write, the re-reads)."""
STEP_TIMEOUT = timedelta(seconds=REQUESTS_PER_STEP * WORST_REQUEST_SECONDS)
"""Sized from the HTTP layer's own worst case (rate-limit waits included); heartbeats catch a dead worker long
before it."""
CHUNKED_CHANGES = "chunked-changes"
"""Patch id: targets are applied and verified by `apply_changes`, a chunk per activity (one activity per target,
`change_resource`, before)."""
CHUNK_ROUNDS = 4
"""A chunk is this many rounds of its lane's concurrency: few enough that a pause holds soon, enough that the
chunk's own cost (an activity, a workflow task) is shared by many targets."""
PIPELINED_CHUNK_ROUNDS = 8
"""Pipelined, a chunk is twice as many rounds: a chunk's tail no longer holds a page back (the other lane runs on),
and half the activities halve the server's work per target (its cost is per request, about 1 ms each)."""
LANES = 2
"""Chunks in flight at once, splitting the tenant's concurrency between them."""
PIPELINED_ROLLOUT = "pipelined-rollout"
"""Patch id: the first page is read once (plan preview and capture), the first capture covers only the canary and
runs beside the change-window check, the next page is captured while the canary changes, the last batch's chunks
run on across page boundaries (no page waits for the previous one's slowest chunk), a batch's last targets are
split evenly between the lanes, and the ledger's pages are settled at once."""
RECAPTURE_AFTER = timedelta(minutes=10)
"""A capture older than this is taken again before writing: what a person changed meanwhile is what a rollback
must restore, and a resource fixed meanwhile is not written at all."""
PREVIEW_TARGETS = 50
"""Targets read at planning time for the card's before → after preview."""
TIMELINE_KEPT = 200
"""Timeline events kept in the workflow (the status query and the carry); older ones are counted, not kept."""
EVENTS_PER_PUBLISH = 20
"""Most events named in one publish (a comment); the rest are summarised as a count."""

# States after which nothing more happens in this rollout.
FINISHED = {
    "completed",
    "completed_with_failures",
    "rolled_back",
    "rejected",
    "expired",
    "aborted",
    "nothing_to_do",
    "notify_only",
}
# States in which nothing moves without a person or the end of a timer (a freeze window can last hours: whoever
# follows the campaign, like `mendflow scan --tenant`, must not block until it ends).
IDLE = FINISHED | {"awaiting_approval", "paused", "frozen"}
DECIDED = {"rejected", "expired"}
IDLE_ONCE_SETTLED = "idle-once-settled"
"""Patch id: `wait_idle` reports a finished state only once the ledger records it (runs recorded before answered
as soon as the state changed, while the findings still read remediating)."""

_LEDGER = {
    Outcome.verified: FindingStatus.resolved,
    Outcome.skipped: FindingStatus.resolved,
    Outcome.restored: FindingStatus.rolled_back,
    Outcome.planned: FindingStatus.open,
}
_WRITTEN = (Outcome.applied, Outcome.verified, Outcome.failed)
"""Outcomes of a change that may have reached the vendor (a rollback restores these)."""


@workflow.defn(name="RemediationWorkflow")
class RemediationWorkflow(Controls):
    @workflow.init
    def __init__(self, request: RemediationInput) -> None:
        self._request = request
        carry = request.carry
        self._plan: CampaignPlanDetail | None = carry.plan if carry else None
        self._state = carry.state if carry else "planning"
        self._settled_as: str | None = carry.state if carry else None
        """The finished state the ledger has recorded (a carried state was settled before continuing as new)."""
        self._phase = carry.phase if carry else "rollout"
        self._changes: dict[str, Change] = {}
        """This run's changes by fingerprint, in capture order (earlier runs' are in `_journal`)."""
        self._order: list[str] = []
        """Fingerprints in the order this run wrote their resources (rollback runs it backwards)."""
        self._ready: list[str] = []
        """Captured targets waiting for their batch, in target order."""
        self._journal: list[str] = list(carry.journal) if carry else []
        self._totals: dict[str, int] = dict(carry.totals) if carry else {}
        self._cursor = carry.cursor if carry else 0
        self._batch_sizes: list[int] = list(carry.batch_sizes) if carry else []
        self._batch_index = carry.batch_index if carry else 0
        self._done_in_batch = carry.done_in_batch if carry else 0
        self._failures = carry.failures if carry else 0
        self._decisions: list[Decision] = list(carry.decisions) if carry else []
        self._verdict: Verdict | None = carry.verdict if carry else None
        self._rollback_votes: list[Decision] = list(carry.rollback_votes) if carry else []
        self._rollback_reason = carry.rollback_reason if carry else ""
        self._timeline: list[dict[str, str]] = (
            [{k: str(v) for k, v in e.items()} for e in carry.timeline] if carry else []
        )
        self._events = carry.events if carry else 0
        """Timeline events ever noted (only the last `TIMELINE_KEPT` are kept)."""
        self._paused = carry.paused if carry else False
        self._aborted = carry.aborted if carry else False
        self._escalated = carry.escalated if carry else False
        self._batch = self._batch_index + 1 if self._batch_sizes else 0
        self._writes: list[float] = list(carry.writes) if carry else []
        self._refs = carry.refs if carry else PublishRefs()
        self._published = carry.published if carry else 0
        """Number of timeline events already published (the card and ticket catch up from here)."""
        self._publisher_done = False
        self._publishing = False
        self._retention_until: datetime | None = carry.retention_until if carry else None
        self._runs = carry.runs if carry else 1
        self._progressed = False
        """This run has captured or restored a page (so continuing as new always moves the campaign on)."""
        self._inflight = 0
        self._lanes_busy = 0
        """Chunks in flight (chunked campaigns)."""
        self._writes_pending = 0
        """Writes of the chunks in flight: the budget counts them before they are done."""
        self._running: list[asyncio.Future[None]] = []
        self._stop = False
        self._captured: dict[str, float] = {}
        """When each target waiting to change was captured (workflow time; none are carried over: the next run
        captures them again)."""
        self._prefetch: asyncio.Future[None] | None = None
        """The next page's capture, running while this page's chunks change (chunked campaigns only)."""
        self._pipelined = False
        """`PIPELINED_ROLLOUT` applies to this run (decided once, at its start)."""
        self._entry_bytes = 0
        """Bytes of one change in the journal continuing as new writes (measured on this run's first capture)."""
        self._status_bytes = 0
        """Bytes of one finding's ledger status as continuing as new settles it (measured likewise)."""
        self._open_until: datetime | None = None
        """Writes are allowed until then by the last change-window verdict (pipelined: asked again after)."""
        self._first_page: list[CampaignTarget] = []
        """The first page of targets, read once for the plan's preview and the first captures (pipelined)."""
        self._nonces: set[str] = set(carry.nonces) if carry else set()
        """Nonces of the signed requests already accepted: a replayed proof is refused."""

    # ---- the campaign ----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: RemediationInput) -> RemediationResult:
        publisher = asyncio.ensure_future(self._publisher())
        try:
            result = await self._campaign(request)
        except BaseException:
            publisher.cancel()  # never await in a finally: eviction from the worker cache must not block
            raise
        self._publisher_done = True
        await publisher  # the card and ticket show the final state before the campaign closes
        if workflow.patched(IDLE_ONCE_SETTLED):
            await workflow.wait_condition(workflow.all_handlers_finished)  # wait_idle answers before the run ends
        return result

    async def _publisher(self) -> None:
        """Keep the Slack card and Jira ticket in step with the campaign, without ever holding it up.

        Runs beside the campaign: whenever the timeline grew it nudges the publish activity, which reads the
        status itself (a query) — so history records a few bytes per publish, not the whole status. Events that
        happen while a publish runs are coalesced into the next one. If Slack or Jira is down, the activity
        retries with backoff and the campaign goes on; the card catches up when they are back.
        """
        while True:
            await workflow.wait_condition(lambda: self._published < self._events or self._publisher_done)
            if self._published >= self._events:
                return
            if self._plan is None or self._plan.mode == "notify" or not self._plan.published:
                self._published = self._events
                continue
            upto = self._events
            self._publishing = True
            try:
                self._refs = await workflow.execute_activity(
                    Activity.publish_campaign,
                    PublishInput(refs=self._refs, event=self._events_text(self._published, upto), step=upto),
                    result_type=PublishRefs,
                    task_queue=self._queue(Activity.publish_campaign),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=PUBLISH_RETRY,
                )
            except ActivityError as err:
                workflow.logger.warning("publishing the campaign failed", extra={"error": cause(err)})
            finally:
                self._publishing = False
            self._published = upto

    def _events_text(self, start: int, upto: int) -> str:
        first_kept = self._events - len(self._timeline)
        kept = self._timeline[max(start - first_kept, 0) : upto - first_kept]
        shown = kept[-EVENTS_PER_PUBLISH:]
        text = "; ".join(f"{e['event']} {e['detail']}".strip() for e in shown)
        hidden = (upto - start) - len(shown)
        return f"{text} (+{hidden} earlier event(s))" if hidden > 0 else text

    async def _campaign(self, request: RemediationInput) -> RemediationResult:
        self._pipelined = workflow.patched(PIPELINED_ROLLOUT)
        if request.carry is None:
            if self._pipelined:
                first = min(max(PREVIEW_TARGETS, request.page_size), request.target_count)
                self._first_page = await self._targets(0, first)
                preview = self._first_page[:PREVIEW_TARGETS]
            else:
                preview = await self._targets(0, min(PREVIEW_TARGETS, request.target_count))
            self._plan = plan = await workflow.execute_activity(
                Activity.plan_campaign,
                PlanInput(
                    campaign_id=request.campaign_id,
                    tenant_key=request.tenant_key,
                    playbook_id=request.playbook_id,
                    preview=preview,
                    target_count=request.target_count,
                ),
                result_type=CampaignPlanDetail,
                task_queue=self._queue(Activity.plan_campaign),
                start_to_close_timeout=_reads_timeout(len(preview), 8),
                heartbeat_timeout=request.step_heartbeat,
                retry_policy=RETRY,
            )
            self._note("planned", f"{plan.target_count} target(s), mode {plan.mode}")
            if not plan.target_count:
                return await self._finish("nothing_to_do")
            if plan.mode == "notify":
                return await self._finish("notify_only")
            if plan.mode in GATED_MODES and not await self._approved(plan):
                return await self._finish(self._state)
            if self._pipelined:  # reading is not writing: the first capture need not wait for the window
                self._prefetch = asyncio.ensure_future(self._capture_next_page(plan, self._first_capture(plan)))
            await self._wait_for_window()
        plan = self._plan
        assert plan is not None
        if self._phase == "rollout":
            await self._rollout(plan)
            await self._prefetched()  # a rollout that stopped early: its last capture lands before settling
            await self._lanes_idle()  # and its chunks in flight end
            await self._settle(final=True)
            if self._state == "rolled_back":
                return self._result()
            if not (self._totals.get(Outcome.verified, 0) or self._totals.get(Outcome.failed, 0)):
                return self._result()
            self._phase = "retention"
            self._retention_until = workflow.now() + request.retention
            self._note("rollback state kept", f"for {request.retention}")
        if self._phase == "retention":
            assert self._retention_until is not None
            try:
                await workflow.wait_condition(
                    lambda: self._rollback_requested(),
                    timeout=max(self._retention_until - workflow.now(), timedelta(0)),
                )
            except TimeoutError:
                self._note("retention ended", "rollback state released")
                return self._result()
            self._phase, self._rollback_reason = "rollback", "rollback requested"
        await self._rollback_all(self._rollback_reason)
        self._state = "rolled_back"
        await self._settle(final=True)
        return self._result()

    async def _approved(self, plan: CampaignPlanDetail) -> bool:
        """Wait for enough approvals or a rejection; escalate once; expire at the timeout (nothing changes)."""
        self._state = "awaiting_approval"
        decided = await self._decision_within(
            lambda: self._verdict is not None,
            within=plan.approval_timeout,
            escalate_after=None if self._escalated else plan.escalate_after,
            escalation=lambda waited: EscalationInput(
                campaign_id=plan.campaign_id,
                playbook_id=plan.playbook_id,
                escalate_to=plan.escalate_to,
                waited=waited,
            ),
        )
        if not decided:
            self._state = "expired"
            self._note("expired", f"no decision within {plan.approval_timeout}; nothing was changed")
            return False
        if self._aborted:
            self._state = "aborted"
            return False
        if self._verdict is Verdict.reject:
            self._state = "rejected"
            return False
        self._state = "approved"
        return True

    async def _escalate_once(self, request: EscalationInput) -> None:
        self._escalated = True  # shown in the status and carried over: a campaign escalates once
        await super()._escalate_once(request)

    # ---- the rollout -----------------------------------------------------------------------------------------

    async def _rollout(self, plan: CampaignPlanDetail) -> None:
        """Batches over the campaign's targets, captured page by page just before they are needed.

        A campaign of at most one page is captured whole first, and its batches are cut from the targets still to
        change (as a reviewer expects from the plan). A larger one cuts its batches from the target count and fills
        each with the next captured targets, so nothing is held in memory or history beyond a page.
        """
        if not self._batch_sizes:
            self._state = "capturing"
            total = plan.target_count
            if total <= self._request.page_size:
                if self._prefetch is not None:
                    await self._prefetched()
                else:
                    await self._capture_next_page(plan)
                if self._failures > plan.max_failures:
                    self._note("stopped", f"{self._failures} target(s) could not be captured; nothing was changed")
                    self._state = "completed_with_failures"
                    return
                count = len(self._ready)
            else:
                count = total
            self._batch_sizes = [len(b) for b in split_batches(range(count), canary=plan.canary, batches=plan.batches)]
        sizes = self._batch_sizes
        while self._batch_index < len(sizes):
            index = self._batch_index
            last = index + 1 == len(sizes)
            self._batch = index + 1
            self._state = "canary" if index == 0 else f"batch {index + 1} of {len(sizes)}"
            while last or self._done_in_batch < sizes[index]:
                if not self._ready:
                    if self._prefetch is not None:
                        await self._prefetched()
                    elif self._cursor >= plan.target_count:
                        break
                    else:
                        if self._pipelined and self._continue_as_new_due() and not await self._drained(plan):
                            return  # chunks in flight end before continuing as new, and may stop the rollout
                        await self._maybe_continue_as_new()
                        await self._capture_next_page(plan)
                    if await self._stopped_by_failures(plan):
                        return
                    continue
                want = len(self._ready) if last else sizes[index] - self._done_in_batch
                chunk, self._ready = self._ready[:want], self._ready[want:]
                self._maybe_prefetch(plan)
                closing = not last or (self._cursor >= plan.target_count and self._prefetch is None)
                if not await self._change_all(chunk, plan, closing=closing):
                    return
            if self._pipelined and not await self._drained(plan):
                return
            self._note("batch verified", f"{index + 1} of {len(sizes)}")
            self._batch_index, self._done_in_batch = index + 1, 0
            if not last:
                if plan.bake > timedelta(0):
                    self._state = "baking"
                    await workflow.sleep(plan.bake)
                await self._wait_for_window()
        self._state = "completed_with_failures" if self._failures else "completed"

    async def _stopped_by_failures(self, plan: CampaignPlanDetail) -> bool:
        if self._failures <= plan.max_failures:
            return False
        await self._lanes_idle()  # nothing is restored while it is written
        await self._prefetched()  # its page lands first: the rollback may continue as new, carrying the cursor
        self._note("stopped", f"{self._failures} failure(s) > max_failures {plan.max_failures}")
        await self._rollback_all("too many failures")
        self._state = "rolled_back"
        return True

    async def _change_all(self, fingerprints: list[str], plan: CampaignPlanDetail, *, closing: bool) -> bool:
        """Change these targets, up to `plan.concurrency` at once, paced by the write budget. False when the
        rollout stopped (aborted, or failures past the threshold: then everything written is rolled back).

        Pipelined, this returns once the last chunk is under way (`_drained` waits for the rest); `closing`: no
        more targets follow in this batch, so its last ones are split evenly between the lanes."""
        if workflow.patched(CHUNKED_CHANGES):
            await self._change_in_chunks(fingerprints, plan, closing=closing)
        else:
            await self._change_one_by_one(fingerprints, plan)
        if self._pipelined:  # chunks may still be writing: their outcomes decide how the rollout stops
            return not (self._failures > plan.max_failures or self._aborted) or await self._drained(plan)
        if self._failures > plan.max_failures:
            await self._stopped_by_failures(plan)
            return False
        if self._aborted:
            self._state = "aborted"
            return False
        return True

    async def _lanes_idle(self) -> None:
        """Until no chunk is in flight. Awaiting a condition already true still yields, which would reorder the
        commands of histories recorded before `PIPELINED_ROLLOUT`: only wait when there is something to wait for."""
        if self._lanes_busy:
            await workflow.wait_condition(lambda: self._lanes_busy == 0)

    async def _drained(self, plan: CampaignPlanDetail) -> bool:
        """Wait for the chunks in flight (pipelined); False when their outcomes stopped the rollout."""
        await self._lanes_idle()
        self._running.clear()
        if await self._stopped_by_failures(plan):
            return False
        if self._aborted:
            self._state = "aborted"
            return False
        return True

    async def _change_in_chunks(self, fingerprints: list[str], plan: CampaignPlanDetail, *, closing: bool) -> None:
        """One `apply_changes` activity per chunk of `CHUNK_ROUNDS` rounds of its lane's concurrency: a few events
        per chunk instead of per target. Two lanes share the tenant's concurrency, so one chunk's start never
        waits for the other's slowest target. A pause or abort holds before the next chunk; a capture older than
        `RECAPTURE_AFTER` (a pause, a freeze, a long bake) is taken again before anything is written from it."""
        lanes = min(LANES, max(plan.concurrency, 1))
        per_lane = math.ceil(max(plan.concurrency, 1) / lanes)
        chunk_size = per_lane * (PIPELINED_CHUNK_ROUNDS if self._pipelined else CHUNK_ROUNDS)
        todo = list(fingerprints)
        while todo:
            await workflow.wait_condition(lambda: self._lanes_busy < lanes)
            if self._failures > plan.max_failures or not await self._checkpoint():
                break
            if self._pipelined:
                await self._window_still_open()
            oldest = min(self._captured.get(fp, 0.0) for fp in todo[:chunk_size])
            if workflow.now().timestamp() - oldest > RECAPTURE_AFTER.total_seconds():
                await workflow.wait_condition(lambda: self._lanes_busy == 0)
                todo = await self._recapture(todo)
                continue
            asked_at = workflow.now()
            allowed = await self._writes_allowed(plan.writes_per_minute)
            if self._pipelined:  # what came while this chunk waited (a freeze, the budget)
                if self._failures > plan.max_failures or self._aborted:
                    break  # the other lane's chunk failed, or an abort came
                if self._paused or (workflow.now() > asked_at and not self._window_open()):
                    continue  # held at the checkpoint, or the window asked again, before anything is written
            size = min(chunk_size, allowed)
            if self._pipelined and closing:  # the batch's last targets: the free lanes end together
                size = min(size, math.ceil(len(todo) / (lanes - self._lanes_busy)))
            chunk, todo = todo[:size], todo[size:]
            self._done_in_batch += len(chunk)
            for fingerprint in chunk:  # registered before the writes: a crash mid-apply is still rolled back
                self._captured.pop(fingerprint, None)
                self._order.append(fingerprint)
                self._set(fingerprint, self._changes[fingerprint].model_copy(update={"outcome": Outcome.applied}))
            self._lanes_busy += 1
            self._writes_pending += len(chunk)
            self._running.append(asyncio.ensure_future(self._chunk_in_lane(chunk, plan, per_lane)))
        if not self._pipelined:
            await workflow.wait_condition(lambda: self._lanes_busy == 0)
            self._running.clear()

    async def _chunk_in_lane(self, chunk: list[str], plan: CampaignPlanDetail, concurrency: int) -> None:
        """Apply one chunk and take in its outcomes; a failed change is restored at once and counted."""
        try:
            outcomes = await self._apply_chunk(chunk, plan, concurrency)
            self._writes.extend([workflow.now().timestamp()] * sum(1 for o in outcomes if o is not None))
            failed: list[str] = []
            for fingerprint, outcome in zip(chunk, outcomes, strict=True):
                change = self._changes[fingerprint]
                if outcome is None:  # never started: the chunk stopped on failures
                    self._set(fingerprint, change.model_copy(update={"outcome": Outcome.planned}))
                    self._order.remove(fingerprint)
                    self._done_in_batch -= 1
                    continue
                change = change.model_copy(update={"outcome": outcome.outcome, "detail": outcome.detail})
                self._set(fingerprint, change)
                self._note(change.outcome.value, change.resource.id)
                if change.outcome != Outcome.verified:
                    failed.append(fingerprint)
            self._failures += len(failed)
            for fingerprint in failed:  # restored at once, one by one (failures are few)
                change = self._changes[fingerprint]
                self._set(fingerprint, await self._restore(change, reason=change.detail))
        finally:
            self._writes_pending -= len(chunk)
            self._lanes_busy -= 1

    async def _apply_chunk(
        self, chunk: list[str], plan: CampaignPlanDetail, concurrency: int
    ) -> list[StepOutcome | None]:
        changes = [self._changes[fp] for fp in chunk]
        try:
            result: ChangesResult = await workflow.execute_activity(
                Activity.apply_changes,
                ChangesInput(
                    tenant_key=self._request.tenant_key,
                    playbook_id=self._request.playbook_id,
                    changes=changes,
                    concurrency=concurrency,
                    failures_allowed=max(plan.max_failures - self._failures, 0),
                ),
                result_type=ChangesResult,
                task_queue=self._queue(Activity.apply_changes),
                start_to_close_timeout=_reads_timeout(len(chunk), concurrency),
                heartbeat_timeout=self._request.step_heartbeat,
                retry_policy=RETRY,
            )
            return result.outcomes
        except ActivityError as err:  # every change of the chunk may have been written: each is restored
            return [StepOutcome(outcome=Outcome.failed, detail=cause(err)) for _ in chunk]

    async def _recapture(self, todo: list[str]) -> list[str]:
        """Capture `todo` and the targets still waiting again (their capture is too old to restore to): what is
        now compliant or gone is skipped. Returns as many of the survivors as `todo` held (so a canary is still
        one resource); the others wait again, freshly captured."""
        assert self._plan is not None
        waiting = todo + self._ready
        for fingerprint in waiting:
            self._captured.pop(fingerprint, None)
        self._note("captured again", f"{len(waiting)} target(s): the capture was older than {RECAPTURE_AFTER}")
        page = [CampaignTarget(fingerprint=fp, resource=self._changes[fp].resource) for fp in waiting]
        waited = len(self._ready)
        ready = await self._capture(page, self._plan)
        arrived = self._ready[waited:]  # a prefetched page that landed meanwhile: fresh, kept after the rest
        todo, self._ready = ready[: len(todo)], ready[len(todo) :] + arrived
        return todo

    async def _writes_allowed(self, per_minute: int) -> int:
        """How many writes the per-tenant budget (`per_minute` in any 60 s of workflow time) allows now; waits
        until at least one is. Writes are counted at the end of their chunk, so the budget errs on the safe side."""
        while True:
            now = workflow.now().timestamp()
            self._writes = [t for t in self._writes if now - t < 60]
            spent = len(self._writes) + self._writes_pending
            if spent < per_minute:
                return per_minute - spent
            if self._writes_pending:  # the chunk in flight frees nothing until it ends: wait for it
                await workflow.wait_condition(lambda: self._writes_pending == 0)
                continue
            await workflow.sleep(timedelta(seconds=60 - (now - self._writes[len(self._writes) - per_minute])))

    async def _change_one_by_one(self, fingerprints: list[str], plan: CampaignPlanDetail) -> None:
        """Before `CHUNKED_CHANGES`: one `change_resource` activity per target (kept for histories that used it)."""
        limit = max(plan.concurrency, 1)
        for fingerprint in fingerprints:
            await workflow.wait_condition(lambda: self._inflight < limit or self._stop)
            if self._stop or not await self._checkpoint():
                break
            await self._pace(plan.writes_per_minute)
            self._inflight += 1
            self._done_in_batch += 1
            self._running.append(asyncio.ensure_future(self._change_tracked(fingerprint, plan)))
        await workflow.wait_condition(lambda: self._inflight == 0)
        self._running.clear()

    async def _change_tracked(self, fingerprint: str, plan: CampaignPlanDetail) -> None:
        try:
            if not await self._change_one(fingerprint):
                self._failures += 1
                if self._failures > plan.max_failures:
                    self._stop = True  # launch nothing more; what is in flight finishes, then everything rolls back
        finally:
            self._inflight -= 1

    async def _change_one(self, fingerprint: str) -> bool:
        """Apply and verify one resource; restore it at once if verification fails. True when verified."""
        change = self._changes[fingerprint]
        self._captured.pop(fingerprint, None)
        self._order.append(fingerprint)  # registered before the write: a crash mid-apply is still rolled back
        self._set(fingerprint, change.model_copy(update={"outcome": Outcome.applied}))
        try:
            result: StepOutcome = await workflow.execute_activity(
                Activity.change_resource,
                self._step(change.resource, change),
                result_type=StepOutcome,
                task_queue=self._queue(Activity.change_resource),
                start_to_close_timeout=STEP_TIMEOUT,
                heartbeat_timeout=self._request.step_heartbeat,
                retry_policy=RETRY,
            )
            change = change.model_copy(update={"outcome": result.outcome, "detail": result.detail})
        except ActivityError as err:
            change = change.model_copy(update={"outcome": Outcome.failed, "detail": cause(err)})
        self._set(fingerprint, change)
        self._note(change.outcome.value, change.resource.id)
        if change.outcome == Outcome.verified:
            return True
        self._set(fingerprint, await self._restore(change, reason=change.detail))
        return False

    async def _capture_next_page(self, plan: CampaignPlanDetail, limit: int | None = None) -> None:
        """Re-read and capture the next page of targets (in parallel inside one activity), or its first `limit`."""
        offset = self._cursor
        size = self._request.page_size if limit is None else min(limit, self._request.page_size)
        self._cursor = min(offset + size, self._request.target_count)  # claimed at once
        page = await self._targets(offset, self._cursor - offset)
        ready = await self._capture(page, plan)
        # Only now: the rollout replaces `_ready` while a prefetch runs, so a list taken before the await is stale.
        self._ready.extend(ready)
        self._progressed = True

    def _first_capture(self, plan: CampaignPlanDetail) -> int | None:
        """How many targets the first capture takes (pipelined): a campaign of one page, all (its batches are cut
        from what is ready); a larger one, its canary, so the canary starts before the rest of the page is read."""
        total = plan.target_count
        if total <= self._request.page_size:
            return None
        sizes = split_batches(range(total), canary=plan.canary, batches=plan.batches)
        return min(len(sizes[0]), self._request.page_size)

    def _maybe_prefetch(self, plan: CampaignPlanDetail) -> None:
        """Chunked campaigns: start capturing the next page while this one's targets change, so the rollout
        never waits on a capture between pages — unless this run should continue as new at the next page
        boundary (its history is big enough), which needs nothing in flight. Before `PIPELINED_ROLLOUT`, not
        during the canary; since, reads of the next page go on while the canary changes (nothing is written
        beyond the canary until it is verified)."""
        if self._pipelined and self._prefetch is not None and self._prefetch.done():
            self._prefetch.result()  # landed (its targets are in `_ready`): the next one may start
            self._prefetch = None
        if (
            self._prefetch is not None
            or (self._batch_index == 0 and not self._pipelined)
            or self._cursor >= plan.target_count
            or len(self._ready) >= self._request.page_size
            or not workflow.patched(CHUNKED_CHANGES)
            or self._history_due(len(self._ready) + self._writes_pending + self._request.page_size)
        ):
            return
        limit = None
        if self._pipelined and self._batch_index == 0 and len(self._batch_sizes) > 1:
            limit = self._batch_sizes[1]  # during the canary, only what the next batch needs: it starts sooner
        self._prefetch = asyncio.ensure_future(self._capture_next_page(plan, limit))

    async def _prefetched(self) -> None:
        """Wait for the next page's capture, if one is running (its targets are then in `_ready`)."""
        if self._prefetch is not None:
            await self._prefetch
            self._prefetch = None

    async def _capture(self, page: list[CampaignTarget], plan: CampaignPlanDetail) -> list[str]:
        """Re-read and capture `page`; the fingerprints ready to change (the others are skipped or failed)."""
        try:
            prepared: PrepareResult = await workflow.execute_activity(
                Activity.prepare_changes,
                PrepareInput(
                    tenant_key=self._request.tenant_key,
                    playbook_id=self._request.playbook_id,
                    targets=page,
                    concurrency=plan.concurrency,
                ),
                result_type=PrepareResult,
                task_queue=self._queue(Activity.prepare_changes),
                start_to_close_timeout=_reads_timeout(len(page), plan.concurrency),
                heartbeat_timeout=self._request.step_heartbeat,
                retry_policy=RETRY,
            )
            changes = prepared.changes
            if self._pipelined and not self._entry_bytes and changes:
                self._measure_tail(page, changes)
        except ActivityError as err:
            changes = [
                Change(resource=t.resource, action=plan.action, outcome=Outcome.failed, detail=cause(err)) for t in page
            ]
        now = workflow.now().timestamp()
        ready: list[str] = []
        for target, change in zip(page, changes, strict=True):
            self._set(target.fingerprint, change)
            if change.outcome == Outcome.planned:
                ready.append(target.fingerprint)
                self._captured[target.fingerprint] = now
            elif change.outcome == Outcome.failed:
                self._failures += 1
            self._note("captured" if change.outcome == Outcome.planned else change.outcome.value, target.resource.id)
        return ready

    async def _targets(self, offset: int, limit: int) -> list[CampaignTarget]:
        """Targets [offset, offset+limit): from the input, or a page read from the snapshot store."""
        request = self._request
        if limit <= 0 or offset >= request.target_count:
            return []
        if offset + limit <= len(self._first_page):  # read once already (pipelined)
            return self._first_page[offset : offset + limit]
        if request.findings_digest is None:
            return [
                CampaignTarget(fingerprint=f.fingerprint, resource=f.resource)
                for f in request.findings[offset : offset + limit]
            ]
        page: list[CampaignTarget] = await workflow.execute_activity(
            Activity.load_targets,
            TargetsPage(digest=request.findings_digest, offset=offset, limit=limit),
            result_type=list[CampaignTarget],
            task_queue=self._queue(Activity.load_targets),
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        return page

    async def _restore(self, change: Change, *, reason: str) -> Change:
        step, queue = self._step(change.resource, change), self._queue(Activity.restore_change)
        beat = self._request.step_heartbeat
        restored = await restore(change, step, queue=queue, within=STEP_TIMEOUT, heartbeat=beat)
        self._note(restored.outcome.value, f"{change.resource.id} ({reason})" if reason else change.resource.id)
        if restored.outcome == Outcome.restore_failed:
            workflow.logger.error("RESTORE FAILED", extra={"resource": change.resource.id, "detail": restored.detail})
        return restored

    async def _rollback_all(self, reason: str) -> None:
        """Restore every resource changed so far, newest first: this run's, then each earlier run's journal page
        (newest run first). A failing restore is recorded and we carry on. Long rollbacks continue as new between
        journal pages (what is left travels in the carry)."""
        if self._state != "rolling_back":  # a run that continued as new mid-rollback has said so already
            self._note("rolling back", reason)
        self._state = "rolling_back"
        self._phase, self._rollback_reason = "rollback", reason
        for fingerprint in reversed(self._order):
            change = self._changes[fingerprint]
            if change.outcome in _WRITTEN:
                self._set(fingerprint, await self._restore(change, reason=reason))
        self._order = [fp for fp in self._order if self._changes[fp].outcome in _WRITTEN]
        while self._journal:
            await self._maybe_continue_as_new()
            digest = self._journal[-1]
            page: JournalPage = await workflow.execute_activity(
                Activity.load_journal,
                digest,
                result_type=JournalPage,
                task_queue=self._queue(Activity.load_journal),
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
            self._journal.pop()
            self._progressed = True
            for entry in reversed(page.entries):
                if entry.change.outcome in _WRITTEN:
                    self._set(entry.fingerprint, await self._restore(entry.change, reason=reason), entry.change)

    # ---- continue-as-new -------------------------------------------------------------------------------------

    def _continue_as_new_due(self) -> bool:
        return self._progressed and self._history_due(self._request.page_size)

    def _history_due(self, targets_ahead: int) -> bool:
        """Would this run's history pass its budget with `targets_ahead` more targets done and then continuing as
        new? Pipelined, it is projected (once a page has been measured): bytes per target so far in this run,
        plus what continuing as new writes last, the journal of the run's changes and their ledger statuses. A
        run checked against its size alone ran 60% past its budget: the page ready, the page changing and that
        tail all came after the check."""
        info = workflow.info()
        size, budget = info.get_current_history_size(), self._request.history_budget_bytes
        if info.is_continue_as_new_suggested():
            return True
        done = len(self._changes)
        if not self._pipelined or done < self._request.page_size or not self._entry_bytes:
            return size >= budget
        journal = (len(self._order) + targets_ahead) * self._entry_bytes
        statuses = (done + targets_ahead) * self._status_bytes
        carry = len(self._carry().model_dump_json())
        return size + size / done * targets_ahead + journal + statuses + carry >= budget

    def _measure_tail(self, page: list[CampaignTarget], changes: list[Change]) -> None:
        """What each target adds when this run continues as new: its journal entry and its ledger status."""
        entries = [JournalEntry(fingerprint=t.fingerprint, change=c) for t, c in zip(page, changes, strict=True)]
        self._entry_bytes = len(JournalInput(entries=entries).model_dump_json()) // len(entries)
        statuses = {t.fingerprint: FindingStatus.resolved.value for t in page}
        self._status_bytes = len(json.dumps(statuses)) // len(page)

    async def _maybe_continue_as_new(self) -> None:
        """At a page boundary (nothing in flight): continue as new once this run's history is big enough."""
        await self._prefetched()  # nothing in flight: the carried cursor counts a prefetched page as not done
        if not self._continue_as_new_due():
            return
        await workflow.wait_condition(lambda: not self._publishing and self._inflight == 0 and self._lanes_busy == 0)
        request = self._request
        findings_digest, findings_count = request.findings_digest, request.findings_count
        if findings_digest is None:  # the remaining targets must not be copied into every run's input
            findings_digest = await workflow.execute_activity(
                Activity.store_targets,
                StoreTargetsInput(targets=await self._targets(0, request.target_count)),
                result_type=str,
                task_queue=self._queue(Activity.store_targets),
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
            findings_count = request.target_count
        written = [JournalEntry(fingerprint=fp, change=self._changes[fp]) for fp in self._order]
        if self._pipelined:  # the journal and the ledger are independent: both at once
            await asyncio.gather(self._store_journal(written), self._settle(final=False))
        else:
            await self._store_journal(written)
            await self._settle(final=False)
        # The publisher may have started a publish while we journalled: let it land so its refs are carried.
        await workflow.wait_condition(lambda: not self._publishing)
        self._runs += 1
        workflow.logger.info("continuing as new", extra={"run": self._runs, "cursor": self._cursor})
        workflow.continue_as_new(
            request.model_copy(
                update={
                    "findings": [],
                    "findings_digest": findings_digest,
                    "findings_count": findings_count,
                    "carry": self._carry(),
                }
            )
        )

    async def _store_journal(self, written: list[JournalEntry]) -> None:
        """This run's written changes (the rollback state) into the snapshot store; the carry keeps the digest."""
        if written:
            self._journal.append(
                await workflow.execute_activity(
                    Activity.store_journal,
                    JournalInput(entries=written),
                    result_type=str,
                    task_queue=self._queue(Activity.store_journal),
                    start_to_close_timeout=SHORT,
                    retry_policy=RETRY,
                )
            )

    def _carry(self) -> CampaignCarry:
        assert self._plan is not None
        return CampaignCarry(
            plan=self._plan,
            state=self._state,
            phase=self._phase,
            cursor=self._cursor - len(self._ready),
            batch_sizes=self._batch_sizes,
            batch_index=self._batch_index,
            done_in_batch=self._done_in_batch,
            failures=self._failures,
            journal=self._journal,
            totals=self._totals,
            decisions=self._decisions,
            verdict=self._verdict,
            rollback_votes=self._rollback_votes,
            rollback_reason=self._rollback_reason,
            timeline=list(self._timeline),
            events=self._events,
            published=self._published,
            paused=self._paused,
            aborted=self._aborted,
            escalated=self._escalated,
            writes=self._writes,
            refs=self._refs,
            nonces=sorted(self._nonces),
            retention_until=self._retention_until,
            runs=self._runs,
        )

    # ---- helpers ---------------------------------------------------------------------------------------------

    def _set(self, fingerprint: str, change: Change, previous: Change | None = None) -> None:
        """Record a target's change and keep the campaign-wide outcome counts in step."""
        before = self._changes.get(fingerprint) if previous is None else previous
        if before is not None:
            self._totals[before.outcome.value] -= 1
        self._changes[fingerprint] = change
        self._totals[change.outcome.value] = self._totals.get(change.outcome.value, 0) + 1

    def _step(self, resource: ResourceRef, change: Change | None = None) -> ChangeStep:
        return ChangeStep(
            tenant_key=self._request.tenant_key, playbook_id=self._request.playbook_id, resource=resource, change=change
        )

    async def _checkpoint(self) -> bool:
        """Between resources: hold while paused; False once aborted."""
        if self._paused:
            previous, self._state = self._state, "paused"
            await workflow.wait_condition(lambda: not self._paused or self._aborted)
            self._state = previous
        return not self._aborted

    async def _pace(self, per_minute: int) -> None:
        """At most `per_minute` writes in any 60 s of workflow time (a per-tenant budget)."""
        now = workflow.now().timestamp()
        self._writes = [t for t in self._writes if now - t < 60]
        if len(self._writes) >= per_minute:
            await workflow.sleep(timedelta(seconds=60 - (now - self._writes[0])))
        self._writes.append(workflow.now().timestamp())

    def _window_open(self) -> bool:
        """The last change-window verdict still holds (None — not asked in this run, or a verdict without an end
        from an older worker — holds nothing)."""
        return self._open_until is not None and workflow.now() < self._open_until

    async def _window_still_open(self) -> None:
        """Before a chunk (pipelined): once the last open verdict has run out, ask again — a freeze may begin in
        the middle of a batch, while the canary was being captured, or in a run that continued as new (it carries
        no verdict). Costs nothing while the verdict holds."""
        if self._window_open():
            return
        previous = self._state
        await self._wait_for_window()
        self._state = previous

    async def _wait_for_window(self) -> None:
        if self._pipelined and self._window_open():
            return  # the last verdict still holds: no freeze starts before then
        while True:
            verdict = await workflow.execute_activity(
                Activity.check_change_window,
                WindowInput(tenant_key=self._request.tenant_key, at=workflow.now()),
                result_type=WindowVerdict,
                task_queue=self._queue(Activity.check_change_window),
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
            if verdict.hold_until is None:
                self._open_until = verdict.open_until
                return
            self._state = "frozen"
            self._note("held by freeze window", f"until {verdict.hold_until.isoformat()}")
            hold = max(verdict.hold_until - workflow.now(), timedelta(seconds=1))
            if not self._pipelined:
                await workflow.sleep(hold)
                continue
            try:  # an abort ends the wait at once (a freeze can last the night): nothing more will be written
                await workflow.wait_condition(lambda: self._aborted, timeout=hold)
                return
            except TimeoutError:
                pass

    async def _settle(self, *, final: bool) -> None:
        """Record this run's outcomes in the ledger, page by page; at the end, targets never reached reopen."""
        statuses = {fp: _LEDGER.get(c.outcome, FindingStatus.failed).value for fp, c in self._changes.items()}
        if final and self._cursor < self._request.target_count:
            offset = self._cursor
            while offset < self._request.target_count:
                page = await self._targets(offset, self._request.page_size)
                statuses.update(
                    {t.fingerprint: FindingStatus.open.value for t in page if t.fingerprint not in statuses}
                )
                offset += len(page)
        items = list(statuses.items())
        size = max(self._request.page_size, 1)
        parts = [dict(items[start : start + size]) for start in range(0, max(len(items), 1), size)]
        if self._pipelined:  # the pages touch different findings: all at once
            await asyncio.gather(*(self._settle_page(part) for part in parts))
        else:
            for part in parts:
                await self._settle_page(part)
        if final:
            self._settled_as = self._state

    async def _settle_page(self, statuses: dict[str, str]) -> None:
        await workflow.execute_activity(
            Activity.settle_findings,
            SettleInput(tenant_key=self._request.tenant_key, campaign_id=self._request.campaign_id, statuses=statuses),
            task_queue=self._queue(Activity.settle_findings),
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )

    async def _finish(self, state: str) -> RemediationResult:
        self._state = state
        self._note(state)
        await self._settle(final=True)
        return self._result()

    def _result(self) -> RemediationResult:
        return RemediationResult(
            campaign_id=self._request.campaign_id,
            playbook_id=self._request.playbook_id,
            tenant_key=self._request.tenant_key,
            changes=list(self._changes.values()),
            outcome=self._state,
        )

    def _note(self, event: str, detail: str = "") -> None:
        self._events += 1
        self._timeline.append({"at": workflow.now().isoformat(), "event": event, "detail": detail})
        if len(self._timeline) > TIMELINE_KEPT:
            del self._timeline[: len(self._timeline) - TIMELINE_KEPT]

    def _rollback_requested(self) -> bool:
        required = self._plan.required_approvals if self._plan else 1
        return len({d.approver for d in self._rollback_votes}) >= required

    # ---- decisions and operator controls ---------------------------------------------------------------------

    @workflow.update
    def decide(self, decision: Decision) -> DecisionOutcome:
        """Approve or reject the campaign (validated first: see `_validate_decision`)."""
        assert self._plan is not None
        return self._decided(
            decision,
            required=self._plan.required_approvals,
            where=f"via {decision.channel.value}",
            rejected="rejected: nothing will be changed",
            approved="approved: rollout starts with the canary",
            waiting=self._state,
        )

    @decide.validator
    @refusal_logged("decide")
    def _validate_decision(self, decision: Decision) -> None:
        awaiting = self._state == "awaiting_approval" and self._verdict is None
        self._check_decision(decision, plan=self._plan, awaiting=awaiting, by=self._request.requested_by)

    PAUSED = "paused: the rollout stops before the next resource"

    def _state_text(self) -> str:
        return self._state

    def _pausable(self) -> bool:
        return self._state not in FINISHED and self._state != "rolling_back"

    def _operator_plan(self) -> CampaignPlanDetail | None:
        return self._plan

    @workflow.update
    def abort(self, request: OperatorRequest) -> str:
        self._used(request)
        self._aborted = True
        if self._verdict is None and self._state == "awaiting_approval":
            self._verdict = Verdict.reject
        self._note(f"aborted by {request.operator}", request.reason)
        return "aborted: no further resource will be changed; changed ones stay changed unless rolled back"

    @abort.validator
    @refusal_logged("abort")
    def _validate_abort(self, request: OperatorRequest) -> None:
        self._check_operator(request, "abort")
        if self._aborted or self._state in FINISHED:
            raise ValueError(f"nothing to abort (state: {self._state})")

    @workflow.update
    def rollback(self, request: OperatorRequest) -> str:
        self._used(request)
        vote = Decision(
            approver=request.operator,
            groups=request.groups,
            verdict=Verdict.approve,
            channel=request.channel,
            reason=request.reason,
            at=workflow.now(),
        )
        self._rollback_votes.append(vote)
        self._note(f"rollback requested by {request.operator}", request.reason)
        if self._rollback_requested():
            return "rollback starts: captured prior state is restored, newest change first"
        required = self._plan.required_approvals if self._plan else 1
        missing = required - len({d.approver for d in self._rollback_votes})
        return f"rollback request recorded; {missing} more distinct approver(s) needed"

    @rollback.validator
    @refusal_logged("rollback")
    def _validate_rollback(self, request: OperatorRequest) -> None:
        self._check_operator(request, "rollback")
        if self._state not in ("completed", "completed_with_failures", "aborted"):
            raise ValueError(f"only a finished or aborted rollout can be rolled back (state: {self._state})")
        if any(v.approver == request.operator for v in self._rollback_votes):
            raise ValueError(f"{request.operator} has already requested this rollback")

    @workflow.update(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def wait_idle(self) -> CampaignStatus:
        """Returns once nothing moves without a person: awaiting approval, finished, paused.

        A finished state counts only once the ledger records it, so whoever reads the ledger next (a test, the
        operator after `mendflow scan --tenant`) sees the outcome, not findings still marked remediating.
        """
        settled_first = workflow.patched(IDLE_ONCE_SETTLED)
        await workflow.wait_condition(
            lambda: (
                self._state in IDLE
                and (not settled_first or self._state not in FINISHED or self._settled_as == self._state)
                and (not self._pipelined or self._state not in ("paused", "frozen") or self._nothing_in_flight())
            )
        )
        return self.status()

    def _nothing_in_flight(self) -> bool:
        """No chunk is writing and no capture is reading: a paused or frozen campaign is idle only then."""
        return self._lanes_busy == 0 and (self._prefetch is None or self._prefetch.done())

    @workflow.query
    def status(self) -> CampaignStatus:
        return CampaignStatus(
            campaign_id=self._request.campaign_id,
            playbook_id=self._request.playbook_id,
            state=self._state,
            plan=self._plan,
            batch=self._batch,
            batches_total=len(self._batch_sizes),
            paused=self._paused,
            escalated=self._escalated,
            changes=list(self._changes.values()),
            decisions=list(self._decisions),
            rollback_requests=list(self._rollback_votes),
            timeline=list(self._timeline),
            refs=self._refs,
            target_count=self._plan.target_count if self._plan else self._request.target_count,
            totals={k: v for k, v in self._totals.items() if v},
            events=self._events,
            runs=self._runs,
        )


def _reads_timeout(targets: int, concurrency: int) -> timedelta:
    """A page of reads: rounds of `concurrency` targets, each round a step's worth of worst-case requests."""
    rounds = max(math.ceil(targets / max(concurrency, 1)), 1)
    return timedelta(seconds=rounds * REQUESTS_PER_STEP * WORST_REQUEST_SECONDS)
