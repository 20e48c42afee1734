"""How an activity reports a failure that retrying cannot fix (bad input, a refused action, refused credentials)."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory


def cannot_retry(err: Exception) -> ApplicationError:
    """One log line, no traceback, no retry: the error's type and message travel to the workflow.

    BENIGN keeps the SDK from logging a traceback for an error the user must fix; we log its one line instead.
    """
    activity.logger.warning("%s: %s", type(err).__name__, err)
    return ApplicationError(
        str(err), type=type(err).__name__, non_retryable=True, category=ApplicationErrorCategory.BENIGN
    )
