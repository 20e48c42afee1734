"""`for_each` steps: how a list of items is cut into child runs, when failures stop it, and what it reports.

    items ─> canary page (alone: one failure there stops the rest) ─> pages of PAGE_SIZE items, each a child
    workflow (`ResponseItemsWorkflow`) running the body per item, at most `concurrency` items at once
    failures > max_failures ─> no new item starts; the step fails (its `on_failure` decides: stop / rollback)

A page is a child run so each history stays bounded whatever the list's length: the parent records one child
start and one result per page (the per-item outcomes, kept small), the child the activities of its page.
Kept free of I/O imports: the workflows import it inside Temporal's sandbox.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from mendflow.models import Change
from mendflow.responses.messages import Message, ResponseInput, StepRecord

PAGE_SIZE = 100
"""Items per child run: a page's history (a few activities per item) stays far below the history budget."""
SUMMARY_KINDS = frozenset({"action", "approve", "notify", "wait", "if", "ticket", "switch"})
"""Body steps whose output is repeated in the per-item outcome; a read's or snapshot's object stays in the child
(it can be large, and a thousand of them would fill the parent's history)."""


def failure_limit(max_failures: int | str | None, count: int) -> int:
    """How many failed items are tolerated: a count, or a percentage (`"10%"`) of the items (rounded down)."""
    if max_failures is None:
        return 0
    if isinstance(max_failures, int):
        return max_failures
    return math.floor(count * float(max_failures.rstrip("%")) / 100)


def pages(count: int, *, canary: int, page_size: int = PAGE_SIZE) -> list[tuple[int, int]]:
    """(start, end) item ranges: the canary items alone first, then pages of `page_size`."""
    out: list[tuple[int, int]] = []
    start = 0
    if canary > 0 and count > 0:
        start = min(canary, count)
        out.append((0, start))
    while start < count:
        end = min(start + page_size, count)
        out.append((start, end))
        start = end
    return out


class ItemsInput(Message):
    """One page of a `for_each` step: its items and the body to run for each."""

    response: ResponseInput
    """The parent run's input with the body as the definition's steps (same run id, digest, inputs, requester)."""
    step_id: str
    """The `for_each` step."""
    as_name: str
    """The variable each item is bound to in the body's expressions."""
    start: int
    """Index of the first item of this page in the whole list."""
    items: list[Any]
    outer: list[StepRecord] = Field(default_factory=list)
    """The parent's steps that finish before the `for_each` (the body reads them as `steps.<id>`)."""
    outer_kinds: dict[str, str] = Field(default_factory=dict)
    concurrency: int = 1
    failures_allowed: int = 0
    """Failed items this page may still have; one more and no new item starts."""


class ItemOutcome(Message):
    """What one item came to (`steps.<for_each>.output.items[i]`)."""

    index: int
    item: Any = None
    status: str
    """done, failed, or skipped (not started: a failure threshold was passed, or a rollback was asked for)."""
    detail: str = ""
    steps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Body step id → `status` and (for small kinds) `output`."""


class ItemsResult(Message):
    """A page's outcomes, and the completed reversible changes to restore if the run rolls back."""

    outcomes: list[ItemOutcome]
    changes: list[Change] = Field(default_factory=list)
    """In write order (a rollback restores them newest first)."""
    failures: int = 0
    stopped: bool = False
    """A failure threshold stopped this page before all its items started."""


def summary(outcomes: list[ItemOutcome], *, stopped: bool) -> dict[str, Any]:
    """The `for_each` step's output: every item's outcome and the counts."""
    counts = {status: sum(1 for o in outcomes if o.status == status) for status in ("done", "failed", "skipped")}
    return {"items": [o.model_dump(mode="json") for o in outcomes], **counts, "stopped": stopped}


__all__ = [
    "PAGE_SIZE",
    "SUMMARY_KINDS",
    "ItemOutcome",
    "ItemsInput",
    "ItemsResult",
    "failure_limit",
    "pages",
    "summary",
]
