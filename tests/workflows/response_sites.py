"""The Slack and Jira simulators on loopback for response-workflow runs, and worker settings that reach them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from mendflow.redaction import register_secret
from mendflow.runtime.loopback import serve_in_thread
from mendflow.secrets import SecretRef
from mendflow.settings import JiraSettings, Settings, SlackSettings
from mendflow.sim.jira import JiraState, create_jira_app
from mendflow.sim.slack import SlackWorkspace, create_slack_app
from tests.integrations.conftest import ALICE, BOB, CAROL, CHANNEL, SimulatedJira
from tests.workflows.campaigns import settings


@contextmanager
def jira_site() -> Iterator[SimulatedJira]:
    """The Jira simulator, its token registered as a secret."""
    token = "jira-" + secrets.token_hex(12)
    register_secret(token)
    state = JiraState(token=token)
    with serve_in_thread(create_jira_app(state)) as server:
        state.base_url = server.base_url
        yield SimulatedJira(state, server.base_url, token)


@contextmanager
def slack_site() -> Iterator[SlackWorkspace]:
    """The Slack simulator with alice, bob and carol; its tokens registered as secrets."""
    bot, app, signing = "xoxb-" + secrets.token_hex(12), "xapp-" + secrets.token_hex(12), secrets.token_hex(16)
    for value in (bot, app, signing):
        register_secret(value)
    workspace = SlackWorkspace(
        bot_token=bot, app_token=app, signing_secret=signing, users={ALICE: "alice", BOB: "bob", CAROL: "carol"}
    )
    with serve_in_thread(create_slack_app(workspace)) as server:
        workspace.base_url = server.base_url
        yield workspace


def connected(slack: SlackWorkspace, jira: SimulatedJira, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The campaigns' test settings (RBAC, trusted keys) with Slack and Jira pointing at the simulators."""
    monkeypatch.setenv("SITES_SLACK_BOT", slack.bot_token)
    monkeypatch.setenv("SITES_SLACK_SIGNING", slack.signing_secret)
    monkeypatch.setenv("SITES_JIRA_TOKEN", jira.token)
    return settings().model_copy(
        update={
            "slack": SlackSettings(
                bot_token=SecretRef(ref="env:SITES_SLACK_BOT"),
                signing_secret=SecretRef(ref="env:SITES_SLACK_SIGNING"),
                base_url=slack.base_url + "/api/",
                channel=CHANNEL,
                max_retries=0,
                timeout=5,
            ),
            "jira": JiraSettings(
                server=jira.base_url, user=jira.state.user, token=SecretRef(ref="env:SITES_JIRA_TOKEN"), project="SEC"
            ),
        }
    )
