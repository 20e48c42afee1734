"""A step's `retry` and `timeout` reach Temporal as written: the Jira simulator over loopback refuses a ticket step's
first calls (503), the time-skipping server skips the backoff, and the history shows what was scheduled and tried;
the Slack simulator answering late shows a try cut off at the step's `timeout` (real time, the dev server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.history.v1 import HistoryEvent
from temporalio.testing import WorkflowEnvironment

from mendflow.responses import ResponsePlaybook
from mendflow.responses.messages import TICKET_HEARTBEAT, TICKET_SETTLE, ResponseStatus, RunState
from mendflow.runtime.responses import start_response
from mendflow.runtime.worker import build_worker
from mendflow.sim.slack import SlackWorkspace
from tests.integrations.conftest import SimulatedJira
from tests.workflows.campaigns import settings
from tests.workflows.response_sites import connected, jira_settings, jira_site, slack_site, worker_context

HEAD = {"apiVersion": "mendflow/v1", "kind": "Workflow", "id": "test.options", "title": "t", "tenant": "none:x"}
TICKET = "jira: {summary: Contained}"


@pytest.fixture
def jira() -> Iterator[SimulatedJira]:
    with jira_site() as site:
        yield site


@pytest.fixture
async def run(
    time_env: WorkflowEnvironment, jira: SimulatedJira, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    """Run steps to the end; returns the final status and the run's history."""
    config = jira_settings(jira, monkeypatch, "OPTIONS_JIRA_TOKEN")
    context = worker_context(tmp_path, settings=settings().model_copy(update={"jira": config}))
    queue = f"q-{uuid.uuid4()}"

    async def go(steps: str) -> tuple[ResponseStatus, Sequence[HistoryEvent]]:
        definition = ResponsePlaybook.model_validate({**HEAD, "steps": yaml.safe_load(steps)})
        handle = await start_response(time_env.client, definition, {}, task_queue=queue)
        status: ResponseStatus = await handle.result()
        return status, (await handle.fetch_history()).events

    async with build_worker(time_env.client, context, task_queue=queue):
        yield go


def _ticket_activity(history: Sequence[HistoryEvent]) -> tuple[Any, int]:
    """(the ticket activity's scheduled attributes, the attempt it ended on)."""
    scheduled = next(
        e.activity_task_scheduled_event_attributes
        for e in history
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == "ticket_response"
    )
    attempt = next(
        e.activity_task_started_event_attributes.attempt
        for e in history
        if e.HasField("activity_task_started_event_attributes")
    )
    return scheduled, attempt


async def test_retry_tries_again_after_the_backoff_and_the_step_succeeds(run: Any, jira: SimulatedJira) -> None:
    """Jira answers 503 twice: with `retry: {attempts: 3, backoff: 2s}` the third try opens exactly one issue."""
    jira.state.fail_next(503, retry_after=None, count=2)
    done, history = await run(f"- {{id: t, kind: ticket, {TICKET}, retry: {{attempts: 3, backoff: 2s}}, timeout: 45s}}")
    assert done.state is RunState.completed and done.steps[0].status.value == "done", done.steps[0].detail
    assert len(jira.state.issues) == 1
    scheduled, attempt = _ticket_activity(history)
    assert attempt == 3
    assert scheduled.retry_policy.maximum_attempts == 3
    assert scheduled.retry_policy.initial_interval.ToTimedelta() == timedelta(seconds=2)
    # A ticket try enforces its step's timeout itself; Temporal's cut-off leaves Jira's call in flight time to end.
    assert scheduled.start_to_close_timeout.ToTimedelta() == timedelta(seconds=45) + TICKET_SETTLE
    assert scheduled.heartbeat_timeout.ToTimedelta() == TICKET_HEARTBEAT


async def test_retry_gives_up_after_its_attempts_and_on_failure_decides(run: Any, jira: SimulatedJira) -> None:
    """Jira keeps answering 503: `attempts: 2` tries twice (three refusals stay unused), the step fails and
    `on_failure: continue` lets the independent step run while the dependent one is skipped."""
    jira.state.fail_next(503, retry_after=None, count=5)
    done, history = await run(
        f"""
        - {{id: t, kind: ticket, {TICKET}, retry: {{attempts: 2}}, on_failure: continue}}
        - {{id: after, kind: wait, duration: 1s}}
        - {{id: aside, kind: wait, duration: 1s, needs: []}}
        """
    )
    assert done.state is RunState.completed
    assert [s.status.value for s in done.steps] == ["failed", "skipped", "done"]
    assert jira.state.issues == {} and jira.state.faults[0].count == 3
    assert _ticket_activity(history)[1] == 2


async def test_the_default_retry_and_timeout_are_what_the_format_says(run: Any, jira: SimulatedJira) -> None:
    """No `retry` / `timeout`: three tries, a second's backoff, five minutes per try (docs/playbooks.md)."""
    jira.state.fail_next(503, retry_after=None, count=3)
    done, history = await run(f"- {{id: t, kind: ticket, {TICKET}}}")
    assert done.state is RunState.failed and done.steps[0].status.value == "failed"
    scheduled, attempt = _ticket_activity(history)
    assert attempt == 3 and jira.state.faults == type(jira.state.faults)()
    assert scheduled.retry_policy.initial_interval.ToTimedelta() == timedelta(seconds=1)
    assert scheduled.start_to_close_timeout.ToTimedelta() == timedelta(minutes=5) + TICKET_SETTLE


async def _notify_while_slack_is_slow(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps: str
) -> tuple[ResponseStatus, Sequence[HistoryEvent], SlackWorkspace]:
    """Run `steps` (real time, the dev server) while Slack answers the next post only after 8 s; the final status,
    the run's history and the Slack workspace."""
    with slack_site() as slack, jira_site() as jira_sim:
        context = worker_context(tmp_path, settings=connected(slack, jira_sim, monkeypatch))
        queue = f"q-{uuid.uuid4()}"
        async with build_worker(dev_env.client, context, task_queue=queue):
            slack.delay_next(8, methods=["chat.postMessage"])
            definition = ResponsePlaybook.model_validate({**HEAD, "steps": yaml.safe_load(steps)})
            handle = await start_response(dev_env.client, definition, {}, task_queue=queue)
            done: ResponseStatus = await handle.result()
            return done, (await handle.fetch_history()).events, slack


async def test_a_try_that_outlasts_the_steps_timeout_is_cut_off_and_fails_the_step(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real time (the dev server): Slack would answer a notify step only after 8 s; with `timeout: 1s` and one
    attempt, Temporal times the try out after a second and the step fails saying so (on_failure: stop)."""
    done, _, _ = await _notify_while_slack_is_slow(
        dev_env, tmp_path, monkeypatch, "- {id: tell, kind: notify, message: hi, timeout: 1s, retry: {attempts: 1}}"
    )
    (tell,) = done.steps
    assert done.state is RunState.failed and tell.status.value == "failed" and "StartToClose timeout" in tell.detail
    assert tell.finished_at is not None and tell.started_at is not None
    assert tell.finished_at - tell.started_at < timedelta(seconds=6)  # cut off, not waited out


async def test_slack_not_answering_is_retried_by_the_steps_retry(
    dev_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack does not answer a notify's first post before the client gives up (a network problem, not a refusal):
    the step's `retry` tries again and the second post is delivered — not recorded as undeliverable at once."""
    done, history, slack = await _notify_while_slack_is_slow(
        dev_env, tmp_path, monkeypatch, "- {id: tell, kind: notify, message: hi, retry: {attempts: 2, backoff: 1s}}"
    )
    (tell,) = done.steps
    assert done.state is RunState.completed and tell.output["delivered"] is True, tell
    attempt = next(
        e.activity_task_started_event_attributes.attempt
        for e in history
        if e.HasField("activity_task_started_event_attributes")
    )
    assert attempt == 2
    assert [versions[0].text for versions in slack.cards()] == ["hi"] and slack.abandoned == 1  # posted once
