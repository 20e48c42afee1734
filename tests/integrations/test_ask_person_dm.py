"""`ask_person` sends its question card through `SlackCards.direct_message` (the one DM path): into the DM that
`conversations.open` names, once whatever retries, retried only when Slack marks the error retryable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from mendflow.activities.response_questions import QuestionActivities
from temporalio.testing import ActivityEnvironment

from mendflow.errors import MendflowError
from mendflow.integrations.question_card import ANSWER_ACTION
from mendflow.models import Severity
from mendflow.rbac import Person, RbacConfig
from mendflow.redaction import register_secret
from mendflow.responses.questions import AskInput
from mendflow.settings import Settings
from mendflow.sim.slack import SlackWorkspace
from tests.integrations.conftest import ALICE, slack_settings, worker_contexts


def _workers(tmp_path: Path, slack: SlackWorkspace, monkeypatch: pytest.MonkeyPatch) -> list[QuestionActivities]:
    settings = Settings(
        rbac=RbacConfig(people={"alice": Person(slack=ALICE), "ghost": Person(slack="U0GHOST001")}),
        slack=slack_settings(slack, monkeypatch, "ASK_SLACK"),
    )
    return [QuestionActivities(context) for context in worker_contexts(tmp_path, settings)]


def _ask(person: str, text: str) -> AskInput:
    return AskInput(
        workflow_id="response/test.ask/abc/1",
        question_id="keep#1",
        playbook_id="test.ask",
        severity=Severity.high,
        person=person,
        text=text,
        options=["keep", "drop"],
    )


def _env(activity_id: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="response/test.ask/abc/1", activity_id=activity_id)
    return env


async def test_the_question_card_goes_once_into_the_opened_dm_with_its_buttons(
    tmp_path: Path, slack: SlackWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The card is posted in the DM channel `conversations.open` names (not to the user id), with one button per
    option and the secret masked, and a retry on the other worker posts nothing more."""
    canary = "canary-ask-7c1d93e2"
    register_secret(canary)
    first, second = _workers(tmp_path, slack, monkeypatch)
    request = _ask("alice", f"Keep the token {canary}?")
    plan = await _env("7").run(first.ask_person, request)
    again = await _env("7").run(second.ask_person, request)
    assert plan.delivered and again.delivered and plan.detail == "asked alice in a Slack DM"
    posts = [s for s in slack.history if s.kind == "post"]
    assert len(posts) == 1 and posts[0].channel in slack.open_dms and posts[0].channel != ALICE
    buttons = posts[0].blocks[-1]["elements"]
    assert [b["action_id"] for b in buttons] == [f"{ANSWER_ACTION}:keep", f"{ANSWER_ACTION}:drop"]
    assert canary not in slack.all_text() and "[REDACTED]" in posts[0].text


async def test_only_an_error_slack_marks_retryable_is_raised_for_a_retry(
    tmp_path: Path, slack: SlackWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 on the post is raised (the activity's retry tries again); a person Slack does not know is answered as
    undelivered, naming Slack's error, and the run goes on to wait."""
    worker = _workers(tmp_path, slack, monkeypatch)[0]
    slack.fail_next(1, status=503, methods=["chat.postMessage"])
    with pytest.raises(MendflowError) as raised:
        await _env("8").run(worker.ask_person, _ask("alice", "Keep it?"))
    assert getattr(raised.value, "retryable", False)
    unknown = await _env("9").run(worker.ask_person, _ask("ghost", "Keep it?"))
    assert not unknown.delivered and unknown.detail.startswith("the DM could not be sent:")
    assert "user_not_found" in unknown.detail
