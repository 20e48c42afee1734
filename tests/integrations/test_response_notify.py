"""A response's notify step posts to Slack once, whatever retries: the post is keyed by run and activity."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from mendflow.responses.messages import NotifyInput
from mendflow.settings import Settings
from mendflow.sim.slack import SlackWorkspace
from tests.integrations.conftest import CHANNEL, response_workers, slack_settings


async def test_a_retried_notify_posts_once_and_a_later_step_posts_again(
    tmp_path: Path, slack: SlackWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same activity run twice (a retry, here on a second worker) posts one message; another step posts its own."""
    workers = response_workers(tmp_path, Settings(slack=slack_settings(slack, monkeypatch, "NOTIFY_SLACK")))
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="response/test.run/abc/1", activity_id="7")
    request = NotifyInput(playbook_id="test.run", channel=None, text="token ci-sync revoked")
    first = await env.run(workers[0].notify_response, request)
    again = await env.run(workers[1].notify_response, request)
    assert first.delivered and again.delivered and first.channel == CHANNEL
    assert sum("token ci-sync revoked" in str(m) for m in slack.cards(CHANNEL)) == 1
    env.info = dataclasses.replace(env.info, activity_id="9")
    await env.run(workers[1].notify_response, request)
    assert sum("token ci-sync revoked" in str(m) for m in slack.cards(CHANNEL)) == 2
