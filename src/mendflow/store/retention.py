"""Tables that forget: rows older than a retention are deleted, at most hourly per process, by whoever writes.

Written once for every store that keeps rows only for a while (idempotency keys, snapshots); each says what
"older than the cutoff" deletes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import ClassVar

from mendflow.store.database import Database

PRUNE_EVERY = 3600.0
"""Seconds between two prunes in one process (a prune is one DELETE; any process may run it)."""


class Retained:
    """Base for a store whose rows expire after `retention` (default: the class's `default_retention`)."""

    default_retention: ClassVar[timedelta]

    def __init__(
        self, db: Database, *, retention: timedelta | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.retention = self.default_retention if retention is None else retention
        self.clock = clock
        self._pruned_at = float("-inf")

    def prune_if_due(self) -> None:
        """Prune unless this process already did within `PRUNE_EVERY`."""
        if self.clock() - self._pruned_at >= PRUNE_EVERY:
            self.prune()

    def prune(self) -> int:
        """Delete what is older than the retention; returns how many rows (blobs, keys) went."""
        now = self.clock()
        self._pruned_at = now
        return self._delete_before(now - self.retention.total_seconds())

    def _delete_before(self, cutoff: float) -> int:
        raise NotImplementedError


__all__ = ["PRUNE_EVERY", "Retained"]
