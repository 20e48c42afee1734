"""Durable idempotency keys: a side effect recorded by one process is not repeated by another; old keys pruned."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from mendflow.integrations.slack import MessageRef
from mendflow.store import Database, IdempotencyKeys


async def test_a_step_done_once_is_not_done_again_by_another_process(database_url: str) -> None:
    """`once` runs the call the first time; a second worker (its own engine) gets the recorded result instead."""
    first, second = Database.open(database_url), Database.open(database_url)
    calls: list[int] = []

    async def post() -> MessageRef:
        calls.append(1)
        return MessageRef(channel="C1", ts=f"{len(calls)}.0")

    a = await IdempotencyKeys(first).once("remediate/x", "slack.card", MessageRef, post)
    b = await IdempotencyKeys(second).once("remediate/x", "slack.card", MessageRef, post)
    assert a == b == MessageRef(channel="C1", ts="1.0") and len(calls) == 1
    other = await IdempotencyKeys(second).once("remediate/y", "slack.card", MessageRef, post)
    assert other.ts == "2.0"
    first.dispose()
    second.dispose()


async def test_a_failed_step_is_not_recorded(db: Database) -> None:
    """When the side effect raises, nothing is recorded and the next attempt runs it."""
    keys = IdempotencyKeys(db)

    async def boom() -> str:
        raise RuntimeError("vendor down")

    with pytest.raises(RuntimeError):
        await keys.once("w", "jira.create", str, boom)

    async def create() -> str:
        return "SEC-1"

    assert await keys.once("w", "jira.create", str, create) == "SEC-1"


def test_racing_writers_agree_on_the_first_result(db: Database) -> None:
    """Two attempts recording the same step: the first result wins and both see it."""
    keys = IdempotencyKeys(db)
    assert keys.record("w", "s", '"SEC-1"') == '"SEC-1"'
    assert keys.record("w", "s", '"SEC-2"') == '"SEC-1"'


def test_keys_older_than_the_retention_are_pruned(db: Database) -> None:
    """After the retention, keys are deleted (pruning runs at most hourly as a side job of writes)."""
    now = [1_000_000.0]
    keys = IdempotencyKeys(db, retention=timedelta(days=30), clock=lambda: now[0])
    keys.record("old", "slack.card", "1")
    now[0] += timedelta(days=31).total_seconds()
    keys.record("new", "slack.card", "2")  # first write of this object prunes
    assert keys.get("old", "slack.card") is None and keys.get("new", "slack.card") == "2"
    assert asyncio.iscoroutinefunction(keys.once)
