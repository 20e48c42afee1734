"""Where a playbook-addressed Slack message goes (`integrations.slack_targets`) and how a Slack or Jira failure
leaves an activity (`activities.integration_failures`): the one home both publishing and response steps use."""

from __future__ import annotations

import pytest
from mendflow.activities.integration_failures import classify
from temporalio.exceptions import ApplicationError

from mendflow.errors import ConnectionProblem, InputError
from mendflow.integrations.jira_tickets import JiraError
from mendflow.integrations.slack import SlackAuthError, SlackError
from mendflow.integrations.slack_targets import slack_target
from mendflow.rbac import Person
from mendflow.redaction import register_secret
from mendflow.secrets import SecretRef
from mendflow.settings import SlackSettings

CONFIG = SlackSettings(
    bot_token=SecretRef(ref="env:UNUSED_BOT"),
    signing_secret=SecretRef(ref="env:UNUSED_SIGNING"),
    channel="#sec-remediation",
    channels={"github.special": "#special"},
)
PEOPLE = {"alice": Person(slack="U0ALICE001"), "dave": Person()}


@pytest.mark.parametrize(
    ("address", "playbook", "target"),
    [
        ("user:alice", "x", "U0ALICE001"),
        ("user:dave", "github.special", "#special"),  # no Slack id: the playbook's channel
        ("user:nobody", "x", "#sec-remediation"),
        ("slack:C0ONCALL01", "x", "C0ONCALL01"),
        ("channel:#ops", "x", "#ops"),
        ("#ops", "x", "#ops"),
        ("U0BOB00001", "x", "U0BOB00001"),
        ("group:secops", "x", "#sec-remediation"),
        (None, "github.special", "#special"),
        ("", "x", "#sec-remediation"),
    ],
)
def test_each_address_form_reaches_its_target(address: str | None, playbook: str, target: str) -> None:
    """People by their RBAC Slack id, channels as given, and anything unaddressable falls back to the card channel."""
    assert slack_target(CONFIG, PEOPLE, address, playbook) == target


def _slack(retryable: bool) -> SlackError:
    return SlackError("Slack answered chat.postMessage: x", method="chat.postMessage", status=200, error="x",
                      retryable=retryable)  # fmt: skip


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (_slack(retryable=True), True),
        (_slack(retryable=False), False),
        (JiraError("Jira answered 503", status=503, method="POST", path="/issue", retryable=True), True),
        (JiraError("Jira answered 400", status=400, method="POST", path="/issue", retryable=False), False),
        (SlackAuthError(token_ref="env:SLACK_BOT", method="chat.postMessage", error="invalid_auth"), False),
        (ConnectionProblem("Slack did not answer"), True),
        (InputError("no such project"), False),
        (ValueError("bad field"), False),
        (RuntimeError("surprise"), True),
    ],
)
def test_what_a_person_must_fix_is_not_retried_and_the_rest_is(error: Exception, retried: bool) -> None:
    """Credentials, final answers and bad input are non-retryable; outages, rate limits and surprises are retried."""
    failure = classify(error, "Slack")
    assert isinstance(failure, ApplicationError) and failure.non_retryable is not retried
    assert failure.type == type(error).__name__ and failure.message.startswith("Slack: ")


def test_a_secret_in_the_error_never_reaches_the_failure() -> None:
    """The message travels to workflow history: a registered secret in it is masked."""
    canary = "canary-classify-3b8e61f0"
    register_secret(canary)
    failure = classify(ConnectionProblem(f"token {canary} refused"), "Jira")
    assert canary not in failure.message and "[REDACTED]" in failure.message
