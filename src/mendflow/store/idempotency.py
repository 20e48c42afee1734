"""Durable idempotency for external side effects: (workflow id, step key) → what the side effect returned.

An activity that posts a card, opens a ticket, comments or transitions asks `once(...)`: if an earlier attempt
(on this worker or any other, before or after a crash) already did the step, its recorded result is returned
and nothing is sent again. The record is written right after the side effect succeeds; the only window left
is a crash between the vendor's answer and that write, which no vendor without its own idempotency keys lets
us close. Rows older than the retention are pruned (at most once an hour per process, as a side job of writes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.exc import IntegrityError

from mendflow.store.retention import Retained
from mendflow.store.schema import idempotency_keys

T = TypeVar("T")

RETENTION = timedelta(days=30)
"""Longer than any campaign stays open (rollback retention is 7 days), so a late retry still finds its key."""


class IdempotencyKeys(Retained):
    """The `idempotency_keys` table."""

    default_retention = RETENTION

    def get(self, workflow_id: str, step: str) -> str | None:
        """The recorded result (JSON text) of a step already done, or None."""
        table = idempotency_keys
        with self.db.read() as conn:
            return conn.execute(
                sa.select(table.c.result).where(table.c.workflow_id == workflow_id, table.c.step_key == step)
            ).scalar_one_or_none()

    def record(self, workflow_id: str, step: str, result: str) -> str:
        """Record a step's result; if another attempt recorded it first, that earlier result wins and is returned."""
        now = self.clock()
        try:
            with self.db.write() as conn:
                conn.execute(
                    sa.insert(idempotency_keys).values(
                        workflow_id=workflow_id, step_key=step, result=result, created_at=now
                    )
                )
        except IntegrityError:
            earlier = self.get(workflow_id, step)
            if earlier is not None:
                return earlier
            raise
        self.prune_if_due()
        return result

    def _delete_before(self, cutoff: float) -> int:
        with self.db.write() as conn:
            return conn.execute(sa.delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff)).rowcount

    async def once(self, workflow_id: str, step: str, kind: type[T], call: Callable[[], Awaitable[T]]) -> T:
        """Run `call` unless the step was already done; returns its (recorded) result, typed as `kind`."""
        adapter: TypeAdapter[T] = TypeAdapter(kind)
        done = await asyncio.to_thread(self.get, workflow_id, step)
        if done is not None:
            return adapter.validate_json(done)
        result = await call()
        kept = await asyncio.to_thread(self.record, workflow_id, step, adapter.dump_json(result).decode())
        return adapter.validate_json(kept)


__all__ = ["RETENTION", "IdempotencyKeys"]
