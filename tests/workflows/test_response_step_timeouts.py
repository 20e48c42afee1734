"""A step's `timeout` for the kinds besides `notify` (tests/workflows/test_response_step_options.py): an `action`'s
write that outlasts it is cut off and fails the step, and a `ticket`'s Jira call that outlasts it is waited for,
never abandoned: the issue it still creates is the step's one issue (real time, the dev server, the simulators
answering late over loopback); a `wait … until` ends at its `timeout` or when it holds, and a `wait
duration` is not bounded by it (the time-skipping server). A `wait … answer` nobody answers within its `timeout`
is tested in tests/workflows/test_response_fan_out.py."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.history.v1 import HistoryEvent
from temporalio.testing import WorkflowEnvironment

from mendflow.config import TenantConnection
from mendflow.data import demo_tenant_path
from mendflow.integrations.jira_tickets import once_label
from mendflow.redaction import register_secret
from mendflow.responses import ResponsePlaybook
from mendflow.responses.messages import TICKET_SETTLE, ResponseStatus, RunState, StepRecord
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.responses import start_response
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.settings import Settings
from mendflow.sim.jira import JiraState, create_jira_app
from mendflow.sim.okta import create_okta_app
from mendflow.tenant import load_tenant_file
from tests.workflows.campaigns import settings
from tests.workflows.response_sites import jira_settings, worker_context

HEAD = {"apiVersion": "mendflow/v1", "kind": "Workflow", "id": "test.timeouts", "title": "t"}
OWNER = "00u00000000000001sim"
STEP_TIMEOUT = timedelta(seconds=2)


class Late:
    """ASGI middleware: the next request of `method` to a path ending in `suffix` is answered only after `seconds`;
    when its client hangs up meanwhile it is dropped without reaching the simulator (as the Slack simulator's
    delays are), so a cut-off write changes nothing."""

    def __init__(self, app: Any, method: str, suffix: str, seconds: float) -> None:
        self.app, self.method, self.suffix, self.seconds = app, method, suffix, seconds
        self.pending = False
        self.abandoned = 0
        """Slowed requests whose client hung up before the answer."""
        self.settled = asyncio.Event()
        """Set once the slowed request was dropped or answered (the server may stop then)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not (self.pending and scope["type"] == "http" and scope["method"] == self.method):
            return await self.app(scope, receive, send)
        if not scope["path"].endswith(self.suffix):
            return await self.app(scope, receive, send)
        self.pending = False
        try:
            await self._late(scope, receive, send)
        finally:
            self.settled.set()

    async def _late(self, scope: Any, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        try:  # after the body, receive() returns only when the client hangs up
            message = await asyncio.wait_for(receive(), self.seconds)
        except TimeoutError:
            message = {}
        if message.get("type") == "http.disconnect":
            self.abandoned += 1
            return None
        given = False

        async def replay() -> Any:
            nonlocal given
            if given:
                return await receive()
            given = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


def _definition(steps: str, **extra: Any) -> ResponsePlaybook:
    return ResponsePlaybook.model_validate({**HEAD, **extra, "steps": yaml.safe_load(steps)})


def _scheduled(history: Sequence[HistoryEvent], activity: str) -> Any:
    return next(
        e.activity_task_scheduled_event_attributes
        for e in history
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == activity
    )


def _took(step: StepRecord) -> timedelta:
    assert step.started_at is not None and step.finished_at is not None, step
    return step.finished_at - step.started_at


# ---- action and ticket: real time (the dev server) -------------------------------------------------------------


@contextmanager
def _late_okta(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Late, TenantConnection]]:
    """The Okta simulator (demo tenant) behind Late for its lifecycle writes; (its state, the middleware, the
    connection as `okta:acme`)."""
    tenant = load_tenant_file(demo_tenant_path().with_name("demo-okta.json"))
    token = secrets.token_hex(21)
    register_secret(token)
    monkeypatch.setenv("TIMEOUTS_OKTA_TOKEN", token)
    app = create_okta_app(tenant, token=token)
    late = Late(app, "POST", "/lifecycle/suspend", 10)
    with serve_in_thread(late) as server:
        connection = TenantConnection(
            key="okta:acme", provider="okta", tenant=tenant.tenant, base_url=server.base_url,
            token=SecretRef(ref="env:TIMEOUTS_OKTA_TOKEN"),
        )  # fmt: skip
        yield app.state.okta, late, connection


async def _run_on_dev_server(
    dev_env: WorkflowEnvironment,
    tmp_path: Path,
    definition: ResponsePlaybook,
    *connections: TenantConnection,
    config: Settings | None = None,
) -> tuple[ResponseStatus, Sequence[HistoryEvent]]:
    queue = f"q-{uuid.uuid4()}"
    context = worker_context(tmp_path, *connections, settings=config)
    async with build_worker(dev_env.client, context, task_queue=queue):
        handle = await start_response(dev_env.client, definition, {}, task_queue=queue)
        done: ResponseStatus = await asyncio.wait_for(handle.result(), timeout=60)
        return done, (await handle.fetch_history()).events


async def test_an_action_whose_write_outlasts_the_timeout_is_cut_off_and_the_step_fails(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Okta would answer the suspension only after 10 s: with `timeout: 2s` and one attempt the write's try is cut
    off after 2 s, the step fails saying so (its restore finds nothing to put back), the user stays active, and
    both the capture and the write were scheduled with the step's timeout."""
    steps = f"""
    - {{id: suspend, kind: action, action: okta.user.set_status, target: /api/v1/users/{OWNER},
        with: {{status: SUSPENDED}}, timeout: 2s, retry: {{attempts: 1}}}}
    """
    with _late_okta(monkeypatch) as (okta, late, connection):
        late.pending = True
        done, history = await _run_on_dev_server(dev_env, tmp_path, _definition(steps, tenant="okta:acme"), connection)
        user = next(u for u in okta.users if u["id"] == OWNER)
    (suspend,) = done.steps
    assert done.state is RunState.failed and suspend.status.value == "failed", suspend
    assert "StartToClose timeout" in suspend.detail and suspend.detail.endswith("restored"), suspend.detail
    assert _took(suspend) < timedelta(seconds=5)  # cut off at the step's timeout, not at Okta's answer
    assert late.abandoned == 1 and user["status"] == "ACTIVE"
    for activity in ("capture_response_step", "apply_response_step"):
        assert _scheduled(history, activity).start_to_close_timeout.ToTimedelta() == STEP_TIMEOUT


@contextmanager
def _slow_jira(monkeypatch: pytest.MonkeyPatch, seconds: float) -> Iterator[tuple[JiraState, Settings]]:
    """The Jira simulator creating the next issue only `seconds` after it is asked (the request is carried out
    whether or not its client still waits); (its state, the test settings pointing at it)."""
    token = "jira-" + secrets.token_hex(12)
    register_secret(token)
    state = JiraState(token=token)
    state.slow_next(seconds)
    with serve_in_thread(create_jira_app(state)) as server:
        state.base_url = server.base_url
        site = type("Site", (), {"state": state, "base_url": server.base_url, "token": token})()
        yield state, settings().model_copy(update={"jira": jira_settings(site, monkeypatch, "TIMEOUTS_JIRA_TOKEN")})
        settled_by = time.monotonic() + 15  # every call the run made has landed before the issues are counted
        while (state.in_flight or state.delays) and time.monotonic() < settled_by:
            time.sleep(0.05)


def _tries(history: Sequence[HistoryEvent], activity: str) -> int:
    scheduled = {e.event_id for e in history if e.HasField("activity_task_scheduled_event_attributes")
                 and e.activity_task_scheduled_event_attributes.activity_type.name == activity}  # fmt: skip
    return max(
        e.activity_task_started_event_attributes.attempt
        for e in history
        if e.HasField("activity_task_started_event_attributes")
        and e.activity_task_started_event_attributes.scheduled_event_id in scheduled
    )


async def test_a_ticket_whose_jira_call_outlasts_the_timeout_opens_one_issue_the_retry_adopts(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jira creates the issue only 3 s after it is asked, the step's `timeout` is 2 s: the first try waits for that
    call instead of abandoning it, keeps the issue and fails as timed out; the second try adopts it. Exactly one
    issue exists, carrying the step's label, and the step's record names it."""
    steps = "- {id: t, kind: ticket, jira: {summary: Contained}, timeout: 2s, retry: {attempts: 2, backoff: 0.2}}"
    with _slow_jira(monkeypatch, 3) as (state, config):
        done, history = await _run_on_dev_server(dev_env, tmp_path, _definition(steps, tenant="none:x"), config=config)
    (ticket,) = done.steps
    assert done.state is RunState.completed and ticket.status.value == "done", ticket
    assert list(state.issues) == ["SEC-1"] and ticket.output["key"] == "SEC-1" and ticket.detail == "SEC-1"
    assert once_label(f"{done.run_id}/t") in state.issue("SEC-1").labels
    assert _tries(history, "ticket_response") == 2 and _took(ticket) >= timedelta(seconds=3)
    assert _scheduled(history, "ticket_response").start_to_close_timeout.ToTimedelta() == STEP_TIMEOUT + TICKET_SETTLE


async def test_a_ticket_step_out_of_tries_names_the_issue_that_landed_late_and_audits_it(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same late Jira with `retry: {attempts: 1}` and on_failure continue: the step fails as timed out and its
    record names the issue the call still created (the only one), the audit chain has it as created after the
    step's try timed out, and the next step runs."""
    steps = """
    - {id: t, kind: ticket, jira: {summary: Contained}, timeout: 2s, retry: {attempts: 1}, on_failure: continue}
    - {id: aside, kind: wait, duration: 1s, needs: []}
    """
    with _slow_jira(monkeypatch, 3) as (state, config):
        done, _ = await _run_on_dev_server(dev_env, tmp_path, _definition(steps, tenant="none:x"), config=config)
    ticket, aside = done.steps
    assert ticket.status.value == "failed" and "SEC-1 is kept as this step's issue" in ticket.detail, ticket
    assert list(state.issues) == ["SEC-1"] and done.state is RunState.completed and aside.status.value == "done"
    late = [r for r in worker_context(tmp_path).audit.records() if r["kind"] == "response.ticket.late"]
    assert [(r["campaign_id"], r["details"]["issue"]) for r in late] == [(done.run_id, "SEC-1")]


# ---- wait: the time-skipping server ----------------------------------------------------------------------------


@pytest.fixture
async def waits(time_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Any]:
    """Run steps on the time-skipping server to the end; the final status."""
    queue = f"q-{uuid.uuid4()}"

    async def go(steps: str, inputs: dict[str, Any] | None = None) -> ResponseStatus:
        schema = {"type": "object", "properties": {"at": {"type": "string"}}}
        definition = _definition(steps, tenant="none:x", inputs=schema)
        handle = await start_response(time_env.client, definition, inputs or {}, task_queue=queue)
        done: ResponseStatus = await asyncio.wait_for(handle.result(), timeout=60)  # time passes in milliseconds
        return done

    async with build_worker(time_env.client, worker_context(tmp_path), task_queue=queue):
        yield go


async def test_a_wait_until_that_never_holds_ends_at_its_timeout_as_timed_out(waits: Any) -> None:
    """`until: false` with `timeout: 10m`: the step ends done, timed out, ten minutes after it started (not earlier,
    and not a poll later), and the step after it runs."""
    done = await waits("- {id: hold, kind: wait, until: 'false', timeout: 10m}\n- {id: next, kind: wait, duration: 1s}")
    hold, after = done.steps
    assert done.state is RunState.completed and hold.status.value == "done" and hold.output == {"timed_out": True}
    assert hold.detail == "until did not hold within 0:10:00" and timedelta(minutes=10) <= _took(hold) < timedelta(
        minutes=11
    )
    assert after.status.value == "done"


async def test_a_wait_until_ends_at_the_poll_after_it_holds_within_the_timeout(
    waits: Any, time_env: WorkflowEnvironment
) -> None:
    """The condition holds 25 minutes in (`now` passes `inputs.at`), the timeout is an hour: the step ends at the
    next minute's poll, not timed out."""
    at = (await time_env.get_current_time()) + timedelta(minutes=25)
    done = await waits(
        "- {id: hold, kind: wait, until: 'now >= timestamp(inputs.at)', timeout: 1h}\n",
        {"at": at.isoformat().replace("+00:00", "Z")},
    )
    (hold,) = done.steps
    assert hold.status.value == "done" and hold.output == {"timed_out": False} and hold.detail == "until holds"
    assert timedelta(minutes=25) <= _took(hold) <= timedelta(minutes=26)


async def test_a_wait_duration_is_not_cut_short_by_the_steps_timeout(waits: Any) -> None:
    """`timeout` bounds a try of an activity or a `wait … until`; a `wait duration: 2h` with `timeout: 1m` still
    waits the two hours."""
    done = await waits("- {id: hold, kind: wait, duration: 2h, timeout: 1m}\n")
    (hold,) = done.steps
    assert (
        hold.status.value == "done"
        and hold.output == {"timed_out": False}
        and timedelta(hours=2) <= _took(hold) < timedelta(hours=2, minutes=1)
    )
