"""How a Slack or Jira failure leaves an activity: as an `ApplicationError` Temporal retries (with backoff) when
trying again may help, non-retryable when a person must fix something first. Shared by the campaigns' publishing
and the response steps' notify and ticket activities, so both judge the same error the same way."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from mendflow.errors import AuthError, ConnectionProblem, InputError
from mendflow.integrations.jira_tickets import JiraError
from mendflow.integrations.slack import SlackError
from mendflow.redaction import redact


def fatal(message: str, kind: str) -> ApplicationError:
    """A non-retryable failure of type `kind`, its message redacted."""
    return ApplicationError(redact(message), type=kind, non_retryable=True)


def classify(err: Exception, what: str) -> ApplicationError:
    """`what: message`, non-retryable for what a person must fix (credentials, a refused or malformed request, an
    answer Slack or Jira marks final); retryable for the rest (outages, rate limits, no connection)."""
    text = redact(str(err))
    kind = type(err).__name__
    if isinstance(err, AuthError):
        return fatal(f"{what}: {text}", kind)
    if isinstance(err, (SlackError, JiraError)):
        return ApplicationError(f"{what}: {text}", type=kind) if err.retryable else fatal(f"{what}: {text}", kind)
    if isinstance(err, ConnectionProblem):
        return ApplicationError(f"{what}: {text}", type=kind)
    if isinstance(err, (InputError, ValueError)):
        return fatal(f"{what}: {text}", kind)
    return ApplicationError(f"{what}: {text}", type=kind)


__all__ = ["classify", "fatal"]
