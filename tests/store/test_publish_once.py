"""Publishing is idempotent across workers: a retry on another worker never posts a second card, opens a second
ticket, or repeats a comment or a transition (keys in the shared database, not in worker memory)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from mendflow.activities.publish import PublishActivities
from temporalio.testing import ActivityEnvironment

from mendflow.config import TenantRegistry
from mendflow.secrets import SecretRef
from mendflow.settings import JiraSettings, Settings, SlackSettings
from mendflow.sim.slack import SlackWorkspace
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignStatus, PublishInput, PublishRefs
from tests.integrations.conftest import SimulatedJira
from tests.plans import secret_scanning_plan

CAMPAIGN = "remediate/github:acme/github.repo.secret_scanning/0123456789abcdef"


def _status(state: str, events: int) -> CampaignStatus:
    plan = secret_scanning_plan(CAMPAIGN)
    timeline = [{"event": f"e{n}"} for n in range(events)]
    return CampaignStatus(campaign_id=CAMPAIGN, playbook_id=plan.playbook_id, state=state, plan=plan, timeline=timeline)


@pytest.fixture
def workers(
    tmp_path: Path, database_url: str, slack: SlackWorkspace, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[PublishActivities]]:
    """Two workers with their own data directories and Slack/Jira clients, sharing one database."""
    monkeypatch.setenv("ONCE_SLACK_BOT", slack.bot_token)
    monkeypatch.setenv("ONCE_SLACK_SIGNING", slack.signing_secret)
    monkeypatch.setenv("ONCE_JIRA_TOKEN", jira.token)
    settings = Settings(
        slack=SlackSettings(
            bot_token=SecretRef(ref="env:ONCE_SLACK_BOT"),
            signing_secret=SecretRef(ref="env:ONCE_SLACK_SIGNING"),
            base_url=slack.base_url + "/api/",
            max_retries=0,
            timeout=5,
        ),
        jira=JiraSettings(
            server=jira.base_url, user=jira.state.user, token=SecretRef(ref="env:ONCE_JIRA_TOKEN"), project="SEC"
        ),
    )
    contexts = [
        WorkerContext(
            registry=TenantRegistry(),
            data_dir=tmp_path / name,
            playbooks={},
            settings=settings,
            database_url=database_url,
        )
        for name in ("one", "two")
    ]
    yield [PublishActivities(context) for context in contexts]
    for context in contexts:
        context.close()


def _env() -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=CAMPAIGN)
    return env


async def test_a_retry_on_another_worker_posts_and_creates_nothing_twice(
    workers: list[PublishActivities], slack: SlackWorkspace, jira: SimulatedJira
) -> None:
    """The first publish's result is lost (refs empty again) and another worker retries: one card, one ticket."""
    one, two = workers
    first = PublishInput(status=_status("awaiting_approval", 1), refs=PublishRefs(), event="planned")
    refs_one = await _env().run(one.publish_campaign, first)
    refs_two = await _env().run(two.publish_campaign, first)
    assert refs_one == refs_two and refs_one.slack_ts and refs_one.jira_key
    assert len(slack.messages) == 1
    [versions] = slack.messages.values()
    assert len(versions) == 2  # posted once, then brought up to date by the retry (chat.update)
    assert list(jira.state.issues) == [refs_one.jira_key]


async def test_comments_and_transitions_are_not_repeated_by_a_retry(
    workers: list[PublishActivities], jira: SimulatedJira
) -> None:
    """The same campaign event published by two workers: one comment; the Done transition is taken once."""
    one, two = workers
    refs = await _env().run(
        one.publish_campaign, PublishInput(status=_status("awaiting_approval", 1), refs=PublishRefs(), event="planned")
    )
    done = PublishInput(status=_status("completed", 5), refs=refs, event="completed")
    await _env().run(one.publish_campaign, done)
    await _env().run(two.publish_campaign, done)
    issue = jira.state.issues[refs.jira_key or ""]
    assert [c for c in issue.comments if "completed" in str(c)] and len(issue.comments) == 1
    assert issue.transitions == ["Done"]
