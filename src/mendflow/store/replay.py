"""Signed requests already received, shared by every API replica and kept across restarts.

A request's key (a hash of its signature and body) is inserted with the time its signature stops being
accepted; a second insert of the same key before then is a replay. The primary key makes the check atomic
across processes: of two replicas receiving the same request at once, exactly one insert succeeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mendflow.store.database import Database
from mendflow.store.schema import replay_cache

_PRUNE_EVERY = 60.0


class StoredReplayCache:
    """The `replay_cache` table behind the interface `first_time(key, expires_at) -> bool`."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self._pruned_at = float("-inf")

    def first_time(self, key: str, expires_at: float) -> bool:
        """True (and remembered until `expires_at`) the first time `key` is seen; False for a replay."""
        now = self.clock()
        table = replay_cache
        with self.db.write() as conn:
            if now - self._pruned_at >= _PRUNE_EVERY:
                conn.execute(sa.delete(table).where(table.c.expires_at < now))
                self._pruned_at = now
            # An expired row of the same key no longer counts (its signature is stale anyway).
            conn.execute(sa.delete(table).where(table.c.key == key, table.c.expires_at < now))
            nested = conn.begin_nested()
            try:
                conn.execute(sa.insert(table).values(key=key, expires_at=expires_at))
            except IntegrityError:
                nested.rollback()
                return False
            nested.commit()
        return True

    def forget(self, key: str) -> None:
        """Drop `key` (a webhook delivery whose handling failed, so the vendor's retry is not a replay)."""
        with self.db.write() as conn:
            conn.execute(sa.delete(replay_cache).where(replay_cache.c.key == key))


__all__ = ["StoredReplayCache"]
