"""A response's ticket step opens one Jira issue whatever retries or workers: each Jira call is keyed by run and step
in the shared store; comments and transitions on it happen once too, and secrets never reach the issue's text."""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path

import pytest
from mendflow.activities.response import ResponseActivities
from temporalio.testing import ActivityEnvironment

from mendflow.config import TenantRegistry
from mendflow.models import Severity
from mendflow.redaction import register_secret
from mendflow.responses.messages import TicketInput
from mendflow.secrets import SecretRef
from mendflow.settings import JiraSettings, Settings
from mendflow.worker_context import WorkerContext
from tests.integrations.conftest import SimulatedJira

RUN = "response/okta.api_token.compromise/abc/1"


def _workers(tmp_path: Path, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch) -> list[ResponseActivities]:
    monkeypatch.setenv("TICKET_JIRA_TOKEN", jira.token)
    settings = Settings(
        jira=JiraSettings(
            server=jira.base_url, user=jira.state.user, token=SecretRef(ref="env:TICKET_JIRA_TOKEN"), project="SEC"
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
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=RUN, activity_id="5")
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
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=RUN)
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
