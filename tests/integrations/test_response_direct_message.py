"""A notify step addressed to a person is a direct message: `user:NAME` through the RBAC config's Slack id, or a Slack
user id, opened with `conversations.open` and posted once whatever retries."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from mendflow.activities.response import ResponseActivities
from temporalio.testing import ActivityEnvironment

from mendflow.rbac import Person, RbacConfig
from mendflow.responses.messages import NotifyInput
from mendflow.settings import Settings
from mendflow.sim.slack import SlackWorkspace
from tests.integrations.conftest import ALICE, BOB, CHANNEL, response_workers, slack_settings


def _workers(tmp_path: Path, slack: SlackWorkspace, monkeypatch: pytest.MonkeyPatch) -> list[ResponseActivities]:
    settings = Settings(
        rbac=RbacConfig(people={"alice": Person(slack=ALICE), "dave": Person()}),
        slack=slack_settings(slack, monkeypatch, "DM_SLACK"),
    )
    return response_workers(tmp_path, settings)


def _posts_to(slack: SlackWorkspace, channel: str, text: str) -> int:
    return sum(text in s.text for s in slack.history if s.kind == "post" and s.channel == channel)


async def test_a_person_by_name_gets_one_direct_message_whatever_retries(
    tmp_path: Path, slack: SlackWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`user:alice` opens the app's DM with alice's Slack id and posts there once, on either worker; nothing goes to
    the card channel."""
    first, second = _workers(tmp_path, slack, monkeypatch)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="response/test.dm/abc/1", activity_id="4")
    request = NotifyInput(playbook_id="test.dm", channel="user:alice", text="your token was revoked")
    sent = await env.run(first.notify_response, request)
    again = await env.run(second.notify_response, request)
    assert sent.delivered and again.delivered and sent.channel.startswith("D") and sent.channel == again.channel
    assert sent.channel in slack.open_dms and _posts_to(slack, sent.channel, "your token was revoked") == 1
    assert _posts_to(slack, CHANNEL, "your token was revoked") == 0


async def test_a_slack_user_id_is_messaged_directly_and_an_unknown_person_is_not(
    tmp_path: Path, slack: SlackWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Slack user id needs no RBAC entry; a name without a Slack id is not delivered, and the step says why."""
    worker = _workers(tmp_path, slack, monkeypatch)[0]
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="response/test.dm/abc/2", activity_id="4")
    sent = await env.run(worker.notify_response, NotifyInput(playbook_id="test.dm", channel=BOB, text="hello bob"))
    assert sent.delivered and _posts_to(slack, sent.channel, "hello bob") == 1 and sent.channel != BOB
    env.info = dataclasses.replace(env.info, activity_id="5")
    missing = await env.run(worker.notify_response, NotifyInput(playbook_id="test.dm", channel="user:dave", text="x"))
    assert not missing.delivered and missing.detail == "no Slack user id for dave (set rbac.people.dave.slack)"


async def test_a_person_by_email_address_is_found_and_messaged_directly(
    tmp_path: Path, slack: SlackWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An e-mail address (e.g. an Okta user's) is looked up with `users.lookupByEmail` and gets a DM; an address no
    member has is not delivered, and the step says so."""
    worker = _workers(tmp_path, slack, monkeypatch)[0]
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="response/test.dm/abc/3", activity_id="4")
    request = NotifyInput(playbook_id="test.dm", channel="bob@acme.example", text="hi")
    sent = await env.run(worker.notify_response, request)
    assert sent.delivered and sent.channel.startswith("D") and _posts_to(slack, sent.channel, "hi") == 1
    assert ("users.lookupByEmail", {"email": "bob@acme.example"}) in slack.calls
    env.info = dataclasses.replace(env.info, activity_id="5")
    request = NotifyInput(playbook_id="test.dm", channel="nobody@acme.example", text="x")
    missing = await env.run(worker.notify_response, request)
    assert not missing.delivered and missing.detail.startswith("no Slack member with the address nobody@acme.example")
