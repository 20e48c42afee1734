"""A response's ticket step opens one Jira issue whatever retries, workers or timeouts: each Jira call is keyed by run
and step in the shared store and the issue carries the step's label, so a try adopts what an earlier one created
even when its answer never came; comments and transitions on it happen once too, and secrets never reach the issue's
text. A try that Temporal gave up on and whose issue still landed leaves an orphan named on the audit chain. (The
workflow side, a step timing out on the dev server: tests/workflows/test_response_step_timeouts.py.)"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mendflow.activities.response import ResponseActivities
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from mendflow.config import TenantRegistry
from mendflow.integrations.jira_tickets import once_label
from mendflow.models import Severity
from mendflow.redaction import register_secret
from mendflow.responses.messages import TICKET_SETTLE, TicketInput
from mendflow.secrets import SecretRef
from mendflow.settings import JiraSettings, Settings
from mendflow.worker_context import WorkerContext
from tests.integrations.conftest import SimulatedJira

RUN = "response/okta.api_token.compromise/abc/1"
TRY = timedelta(minutes=5) + TICKET_SETTLE
"""A try's start-to-close as the workflow sets it for a step with the default timeout."""
OPEN = TicketInput(step_id="open", playbook_id="p.q", severity=Severity.medium, summary="Contained")


def _env(activity_id: str = "1", start_to_close: timedelta = TRY) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, workflow_id=RUN, activity_id=activity_id, start_to_close_timeout=start_to_close
    )
    return env


def _workers(
    tmp_path: Path, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> list[ResponseActivities]:
    monkeypatch.setenv("TICKET_JIRA_TOKEN", jira.token)
    settings = Settings(
        jira=JiraSettings(
            server=jira.base_url,
            user=jira.state.user,
            token=SecretRef(ref="env:TICKET_JIRA_TOKEN"),
            project="SEC",
            **options,
        )
    )
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    return [
        ResponseActivities(
            WorkerContext(
                registry=TenantRegistry(), data_dir=tmp_path / name, playbooks={}, settings=settings, database_url=url
            )
        )
        for name in ("one", "two")
    ]


async def test_a_retried_ticket_step_opens_one_issue_on_any_worker(
    tmp_path: Path, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same step run on two workers (a retry after a crash) creates one issue and returns its key and link; a
    planted canary secret in the description is masked before Jira sees it."""
    canary = "canary-" + secrets.token_hex(10)
    register_secret(canary)
    first_worker, second_worker = _workers(tmp_path, jira, monkeypatch)
    env = _env("5")
    request = TicketInput(
        step_id="incident", playbook_id="okta.api_token.compromise", severity=Severity.high,
        summary="Okta token ci-sync compromised", description=f"token value {canary}", labels=("incident",),
    )  # fmt: skip
    first = await env.run(first_worker.ticket_response, request)
    env.info = dataclasses.replace(env.info, activity_id="6")  # another attempt, another worker
    again = await env.run(second_worker.ticket_response, request)
    assert first.key == again.key and first.url == f"{jira.base_url}/browse/{first.key}"
    assert len(jira.state.issues) == 1
    issue = jira.state.issue(first.key)
    assert canary not in str(issue) and "[REDACTED]" in str(issue.description) and "incident" in issue.labels


async def test_comment_and_transition_happen_once_on_the_key(
    tmp_path: Path, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later step comments on the issue and moves it to Done; repeated, it adds no second comment."""
    worker, other = _workers(tmp_path, jira, monkeypatch)
    env = _env()
    base = {"playbook_id": "p.q", "severity": Severity.medium}
    created = await env.run(worker.ticket_response, TicketInput(step_id="open", summary="s", **base))
    close = TicketInput(step_id="close", key=created.key, comment="contained", transition="Done", **base)
    done = await env.run(worker.ticket_response, close)
    await env.run(other.ticket_response, close)
    issue = jira.state.issue(created.key)
    assert done.key == created.key and done.detail == f"{created.key} → Done"
    assert issue.status == "Done" and [c["body"] for c in issue.comments] == ["contained"]


async def test_without_jira_configured_nothing_is_sent_and_the_step_says_so(tmp_path: Path) -> None:
    """No `jira:` section: an empty key and the reason, no failure (like a notify without Slack)."""
    worker = ResponseActivities(
        WorkerContext(registry=TenantRegistry(), data_dir=tmp_path, playbooks={}, settings=Settings())
    )
    result = await ActivityEnvironment().run(
        worker.ticket_response, TicketInput(step_id="t", playbook_id="p.q", severity=Severity.low, summary="s")
    )
    assert result.key == "" and result.detail == "Jira is not configured"


async def test_an_issue_whose_record_was_lost_is_adopted_through_its_label(
    tmp_path: Path, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jira holds an issue with the step's label but the store has no record (the worker died between Jira's answer
    and the write): the next try finds it by label and adopts it instead of opening a second one."""
    (worker, _) = _workers(tmp_path, jira, monkeypatch)
    earlier = jira.state.new_issue(
        "SEC", issuetype="Task", summary="Contained", description="", labels=[once_label(f"{RUN}/open")],
        priority="Medium",
    )  # fmt: skip
    result = await _env().run(worker.ticket_response, OPEN)
    assert result.key == earlier.key and list(jira.state.issues) == [earlier.key]
    assert ("GET", "/rest/api/2/search/jql") in jira.state.calls or ("GET", "/rest/api/2/search") in jira.state.calls


async def test_jira_that_created_the_issue_but_answered_too_late_gets_no_second_one(
    tmp_path: Path, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jira creates the issue at once but answers after 3 s, past the client's `jira.timeout` of 1 s: the try fails
    as retryable, and the retry adopts the labelled issue — one issue, and its key is the step's."""
    (worker, _) = _workers(tmp_path, jira, monkeypatch, timeout=1.0)
    jira.state.slow_next(3, acted_first=True)
    with pytest.raises(ApplicationError) as failed:
        await _env("1").run(worker.ticket_response, OPEN)
    assert not failed.value.non_retryable and "did not answer within 1 s" in str(failed.value)
    retried = await _env("2").run(worker.ticket_response, OPEN)
    assert (
        list(jira.state.issues) == [retried.key] and once_label(f"{RUN}/open") in jira.state.issue(retried.key).labels
    )


async def test_a_try_whose_jira_call_outlives_its_timeout_keeps_the_issue_and_fails(
    tmp_path: Path, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step timeout 1 s, Jira creates the issue after 2 s: the try waits for it (never abandoned), records it, then
    fails as timed out naming it, with the late issue on the audit chain; the next try returns it, creating nothing."""
    (worker, _) = _workers(tmp_path, jira, monkeypatch)
    jira.state.slow_next(2)
    request = OPEN.model_copy(update={"timeout": timedelta(seconds=1)})
    with pytest.raises(ApplicationError) as failed:
        await _env("1", timedelta(seconds=1) + TICKET_SETTLE).run(worker.ticket_response, request)
    assert failed.value.type == "TicketTimedOut" and not failed.value.non_retryable
    assert "SEC-1 is kept as this step's issue" in str(failed.value) and list(jira.state.issues) == ["SEC-1"]
    retried = await _env("2", timedelta(seconds=1) + TICKET_SETTLE).run(worker.ticket_response, request)
    assert retried.key == "SEC-1" and list(jira.state.issues) == ["SEC-1"]
    late = [r for r in worker.ctx.audit.records() if r["kind"] == "response.ticket.late"]
    assert [(r["details"]["issue"], r["campaign_id"]) for r in late] == [("SEC-1", RUN)]


async def test_no_call_starts_when_jira_could_outlast_the_try(
    tmp_path: Path, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A try of 30 s with `jira.timeout` 10 s (60 s worst case) would let Temporal start the next try while Jira may
    still create the issue: refused before any Jira call, not retried, saying which setting to change."""
    (worker, _) = _workers(tmp_path, jira, monkeypatch)
    request = OPEN.model_copy(update={"timeout": timedelta(seconds=20)})
    with pytest.raises(ApplicationError) as refused:
        await _env("1", timedelta(seconds=30)).run(worker.ticket_response, request)
    assert refused.value.non_retryable and "lower jira.timeout or raise the step's timeout" in str(refused.value)
    assert jira.state.calls == [] and jira.state.issues == {}


async def test_an_issue_landing_after_temporal_gave_up_on_its_try_is_an_audited_orphan(
    tmp_path: Path, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Try 1's create lands after 2 s, but try 2 (as after a lapsed heartbeat) already created and recorded its own:
    the step keeps try 2's issue and the audit chain names try 1's as an orphan to close."""
    first_worker, second_worker = _workers(tmp_path, jira, monkeypatch)
    jira.state.slow_next(2)
    first = asyncio.ensure_future(_env("1").run(first_worker.ticket_response, OPEN))
    await asyncio.to_thread(_until_posted, jira)
    second = await _env("2").run(second_worker.ticket_response, OPEN)  # Jira acts on it at once: SEC-1
    assert (await first).key == second.key == "SEC-1" and set(jira.state.issues) == {"SEC-1", "SEC-2"}
    (orphan,) = [r for r in first_worker.ctx.audit.records() if r["kind"] == "response.ticket.orphan"]
    assert orphan["details"] == {"step": "open", "issue": "SEC-2", "kept": "SEC-1"} and orphan["campaign_id"] == RUN
    assert "close SEC-2 as its duplicate" in orphan["reason"]


def _until_posted(jira: SimulatedJira) -> None:
    """Wait (up to 5 s) until the simulator received a create."""
    deadline = time.monotonic() + 5
    while ("POST", "/rest/api/2/issue") not in jira.state.calls and time.monotonic() < deadline:
        time.sleep(0.02)
