"""Which errors a chunk of changes tries again (reading first) and which fail the change at once."""

from __future__ import annotations

import pytest

from activities.remediation import _outcomes_beaten, _transient
from mendflow.errors import (
    ActionError,
    AuthError,
    ConnectionProblem,
    InputError,
    MissingPermission,
    RateLimited,
    VendorError,
)
from mendflow.models import Outcome
from mendflow.workflow_types import StepOutcome


@pytest.mark.parametrize(
    ("error", "again"),
    [
        (ConnectionProblem("no answer"), True),
        (VendorError("bad gateway", status=502, method="PATCH", path="/x"), True),
        (RateLimited("rate limited for 900s", status=429, method="PATCH", path="/x"), True),
        (RateLimited("rate limited for 3600s", status=403, method="PATCH", path="/x"), True),  # GitHub's secondary
        (VendorError("too many requests", status=429, method="PATCH", path="/x"), True),
        (VendorError("validation failed", status=422, method="PATCH", path="/x"), False),
        (VendorError("not found", status=404, method="GET", path="/x"), False),
        (AuthError("bad credentials", status=401, method="GET", path="/x"), False),
        (MissingPermission("forbidden", needs="admin:repo_hook", method="PATCH", path="/x"), False),
        (ActionError("cannot apply"), False),
        (InputError("bad parameter"), False),
    ],
)
def test_only_unanswered_5xx_and_rate_limited_writes_are_tried_again(error: Exception, again: bool) -> None:
    assert _transient(error) is again  # type: ignore[arg-type]


def test_a_retried_chunk_skips_what_its_heartbeat_names_done() -> None:
    """The last heartbeat of an attempt names the recorded outcomes by index; anything else is done again."""
    details = [{"done": {"0": {"outcome": "verified", "detail": ""}, "3": {"outcome": "failed", "detail": "x"}}}]
    assert _outcomes_beaten(details) == {
        0: StepOutcome(outcome=Outcome.verified),
        3: StepOutcome(outcome=Outcome.failed, detail="x"),
    }
    assert _outcomes_beaten([]) == {} and _outcomes_beaten([{"waiting_s": 3.0}]) == {}
