"""A response's `ticket` step in Jira: one issue per step, whatever retries, workers or timeouts.

    create:   the store's record for (run, step) → else an issue labelled `once_label(run/step)` (search) → else
              create one with that label
    comment, transition: the store's record → else the call
    each Jira call runs in a worker thread together with the store write that records its result, so a try that
    is timed out or cancelled can never separate an issue from its record
    a call starts only before the step's `timeout` (soft), and only if its worst case ends before the try's
    start-to-close (hard: the workflow gives it `timeout + TICKET_SETTLE`), so Temporal never starts the next
    try while a call is in flight
    a call answered after the soft deadline: its result is kept, the try fails as timed out, and the next try
    goes on from there (with none left, the step's record names the issue)

A second issue can only come from a try Temporal gave up on anyway (its worker stopped answering, the heartbeat
lapsed) whose call still landed: that issue goes on the audit chain as an orphan, naming the issue the step kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from mendflow.activities.integration_failures import classify, fatal
from pydantic import TypeAdapter
from temporalio import activity
from temporalio.exceptions import ApplicationError

from mendflow.audit import AuditEvent
from mendflow.errors import MendflowError
from mendflow.integrations.jira_tickets import JiraTickets, JiraTransitionError, once_label
from mendflow.redaction import redact
from mendflow.responses.messages import TicketInput
from mendflow.worker_context import WorkerContext

T = TypeVar("T")
BEAT_EVERY = 10.0
"""Seconds between heartbeats while a Jira call is in flight (the workflow's heartbeat timeout is a minute)."""
MARGIN = 1.0
"""Seconds kept free before the start-to-close: the try's clock starts when the worker picks it up, a little after
Temporal's."""
TIMED_OUT = "TicketTimedOut"
"""The failure type of a try that outlasted its step's `timeout` (retried like any timed-out try)."""
_KEY = TypeAdapter(str)


class TicketTry:
    """One try of a ticket step: its deadlines, its Jira client and the run's durable records."""

    def __init__(self, context: WorkerContext, jira: JiraTickets, request: TicketInput, info: activity.Info) -> None:
        self.ctx, self.jira, self.request = context, jira, request
        self.run = info.workflow_id or ""
        self.started = time.monotonic()
        self.soft = request.timeout.total_seconds() if request.timeout is not None else None
        hard = info.start_to_close_timeout
        # A try scheduled before the step's timeout was passed in (its start-to-close is the step's timeout) keeps
        # the bound it was scheduled with: refusing it now would fail runs that were fine when they started.
        self.hard = hard.total_seconds() - MARGIN if hard and self.soft is not None else None
        self.given_up = False
        """Set when the try was cancelled (timed out by Temporal, the run cancelled): a result landing later is late."""

    # ---- the step's operations -------------------------------------------------------------------------------

    async def create(self) -> str:
        """The step's issue: recorded, found by its label, or created with it."""
        summary = self.request.summary
        assert summary is not None
        step = f"jira.create:{self.request.step_id}"
        recorded = await asyncio.to_thread(self.ctx.idempotency.get, self.run, step)
        if recorded is not None:
            return _KEY.validate_json(recorded)
        label = once_label(f"{self.run}/{self.request.step_id}")
        found = await self._call(
            "Jira search",
            lambda: self.jira.find(label),
            late=lambda _: "nothing was created; the next try searches again",
        )
        if found:
            return await asyncio.to_thread(self._keep, step, found[0], found[1:])
        request = self.request

        def create_and_keep() -> str:
            key = self.jira.open(
                summary=summary,
                description=request.description,
                severity=request.severity,
                project=request.project,
                issue_type=request.issue_type,
                labels=(*request.labels, label),
            )
            return self._keep(step, key, ())

        return await self._call("Jira create issue", create_and_keep, late=self._late_issue)

    async def comment(self, key: str, text: str) -> None:
        step = f"jira.comment:{self.request.step_id}"
        if await asyncio.to_thread(self.ctx.idempotency.get, self.run, step) is not None:
            return

        def comment_and_keep() -> bool:
            self.jira.comment(key, text)
            self.ctx.idempotency.record(self.run, step, "true")
            return True

        await self._call(f"Jira comment on {key}", comment_and_keep)

    async def transition(self, key: str, name: str) -> str:
        """'' when moved; Jira's reason when not (already there, or no such transition from here: said, not fatal)."""
        step = f"jira.transition:{self.request.step_id}"
        recorded = await asyncio.to_thread(self.ctx.idempotency.get, self.run, step)
        if recorded is not None:
            return _KEY.validate_json(recorded)

        def move_and_keep() -> str:
            try:
                self.jira.transition(key, name)
                skipped = ""
            except JiraTransitionError as err:
                skipped = redact(str(err))
            return _KEY.validate_json(self.ctx.idempotency.record(self.run, step, _KEY.dump_json(skipped).decode()))

        return await self._call(f"Jira transition {key}", move_and_keep)

    # ---- deadlines and records -------------------------------------------------------------------------------

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _may_start(self, what: str) -> None:
        elapsed, worst = self._elapsed(), self.jira.worst_case.total_seconds()
        if self.soft is not None and elapsed >= self.soft:
            raise ApplicationError(
                f"{what} not started: the try reached the step's timeout ({self.soft:g} s)", type=TIMED_OUT
            )
        if self.hard is not None and elapsed + worst > self.hard:
            text = (
                f"{what} not started: Jira may take {worst:g} s to answer (jira.timeout {self.jira.timeout:g} s, up to "
                f"{worst / self.jira.timeout / 2:g} requests, each connect + answer) and this try has "
                f"{max(self.hard - elapsed, 0):.0f} s left; lower jira.timeout or raise the step's timeout"
            )
            # At the try's start that is the configuration, which no retry changes; later it is the try's time.
            if elapsed < 1:
                raise fatal(text, TIMED_OUT)
            raise ApplicationError(text, type=TIMED_OUT)

    async def _call(self, what: str, call: Callable[[], T], *, late: Callable[[T], str] | None = None) -> T:
        """Run `call` in a thread, beating while it waits; never abandoned: cancelled, the thread still finishes
        and its record is written. Answered after the step's timeout: the try fails, saying what was kept."""
        self._may_start(what)
        future = asyncio.ensure_future(asyncio.to_thread(call))
        try:
            while not (await asyncio.wait({future}, timeout=BEAT_EVERY))[0]:
                activity.heartbeat({"waiting_for": what, "s": round(self._elapsed())})
        except asyncio.CancelledError:
            self.given_up = True
            future.add_done_callback(lambda done: done.exception())  # the thread's failure, if any, is not lost noise
            raise
        try:
            result = future.result()
        except (MendflowError, ValueError) as err:
            raise classify(err, what) from None
        took = self._elapsed()
        if self.soft is not None and took > self.soft:
            kept = f"; {late(result)}" if late is not None else "; done, and the next try will not repeat it"
            raise ApplicationError(
                f"{what} answered after the step's timeout ({took:.1f} s > {self.soft:g} s){kept}", type=TIMED_OUT
            )
        return result

    def _late_issue(self, key: str) -> str:
        self._audit(
            "response.ticket.late",
            "error",
            f"Jira issue {key} was created after step {self.request.step_id}'s try timed out; kept as the step's issue",
            key,
        )
        return f"{key} is kept as this step's issue: the next try goes on from it"

    def _keep(self, step: str, key: str, others: tuple[str, ...] | list[str]) -> str:
        """Record `key` as the step's issue (in the worker thread, right after Jira's answer); an issue that lost to
        an earlier record, and any further issue carrying the step's label, are orphans on the audit chain."""
        kept = _KEY.validate_json(self.ctx.idempotency.record(self.run, step, _KEY.dump_json(key).decode()))
        if self.given_up and kept == key:
            self._late_issue(key)
        for orphan in [*([key] if kept != key else []), *others]:
            self._audit(
                "response.ticket.orphan",
                "ignored",
                f"a second Jira issue {orphan} for step {self.request.step_id}, created by a try the run had given "
                f"up on: {kept} is the step's issue; close {orphan} as its duplicate",
                orphan,
                kept=kept,
            )
        return kept

    def _audit(self, kind: str, outcome: str, reason: str, issue: str, **details: str) -> None:
        event = AuditEvent(
            kind=kind,
            outcome=outcome,
            reason=reason,
            channel="jira",
            campaign_id=self.run,
            details={"step": self.request.step_id, "issue": issue, **details},
        )
        self.ctx.audit.append(event)


__all__ = ["BEAT_EVERY", "TIMED_OUT", "TicketTry"]
