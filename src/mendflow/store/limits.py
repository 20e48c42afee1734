"""A tenant's limits, shared by every worker through the database: vendor rate windows, the write budget and the
concurrency slots of its writes.

Each operation is one short write transaction that first serializes on the row it changes (a PostgreSQL advisory
transaction lock, which also covers a row not inserted yet; on SQLite the immediate transaction holds the
database's write lock), then reads, decides and writes back. Nothing here sleeps: an operation answers how long
to wait, and the caller waits (heartbeating) and asks again — so a worker killed mid-wait leaves nothing behind.

- **Vendor windows** (`take_requests` / `observe_window`): the vendor's own figures (limit, requests left, reset
  time) as the latest answer reported them, minus the requests granted since. A bucket never heard of grants one
  probe request, whose answer fills in the figures (or, without rate-limit headers, marks it unmetered:
  `observe_unmetered`); a window past its reset starts full again.
- **Write budget** (`take_write`): a token bucket of `per_minute` tokens refilled continuously; a take reserves a
  token even when none is left and answers how long to wait for it, so waiters queue in arrival order with no
  retry storms.
- **Concurrency** (`try_lease` / `renew_lease` / `release_lease`): one row per holder with an expiry; a holder
  renews while it works, and an expired lease (a killed worker) no longer counts. `admit` takes a slot and a
  write of the budget in one transaction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from mendflow.store.database import Database
from mendflow.store.schema import tenant_buckets, tenant_leases

PROBE_SECONDS = 2.0
"""While a bucket's figures are unknown, one probe request at a time, re-granted after this long without answer."""
POLL_SECONDS = 0.05
"""How soon to ask again while a probe's answer is awaited."""
RESET_MARGIN = 0.25
"""Vendors announce resets in whole seconds and clocks differ: a window counts as refilled this long after."""
CHUNK_SHARE = 0.05
"""A worker may take this share of a window's remaining requests at once (then spends them without asking)."""
WRITES = "writes"
"""The bucket name of the write budget."""
UNMETERED = -1.0
"""`capacity` of a bucket whose vendor reports no window (answers without rate-limit headers)."""
UNMETERED_LEND = 60.0
"""Requests of an unmetered bucket are lent for this long (then asked for again, in case the vendor starts
reporting a window)."""


@dataclass(frozen=True)
class Admission:
    """A chunk of writes admitted: the concurrency slots it holds and, per write, the seconds to wait first."""

    holders: list[str]
    waits: list[float]


@dataclass(frozen=True)
class Grant:
    """The answer to a take: how many requests may be sent now, else how long to wait before asking again."""

    granted: int
    wait: float
    until: float | None = None
    """When the window they were granted from ends (requests not sent by then count against the next one)."""


# Statements built once (parameters bound when run): building one costs several times what running it on SQLite
# does, and these run on every chunk and every take of a campaign.
_b, _l = tenant_buckets, tenant_leases
_BUCKET = sa.select(_b.c.capacity, _b.c.tokens, _b.c.reset_at, _b.c.updated_at).where(
    _b.c.tenant == sa.bindparam("k_tenant"), _b.c.bucket == sa.bindparam("k_bucket")
)
_PUT_BUCKET = sa.update(_b).where(_b.c.tenant == sa.bindparam("k_tenant"), _b.c.bucket == sa.bindparam("k_bucket"))
_NEW_BUCKET = sa.insert(_b)
_EXPIRED_LEASES = sa.delete(_l).where(_l.c.tenant == sa.bindparam("k_tenant"), _l.c.expires_at <= sa.bindparam("k_now"))
_HOLDERS = sa.select(_l.c.holder).where(_l.c.tenant == sa.bindparam("k_tenant"))
_MY_LEASES = (_l.c.tenant == sa.bindparam("k_tenant"), _l.c.holder.in_(sa.bindparam("k_holders", expanding=True)))
_RENEW_LEASES = sa.update(_l).where(*_MY_LEASES)
_RELEASE_LEASES = sa.delete(_l).where(*_MY_LEASES)
_NEW_LEASE = sa.insert(_l)


class TenantLimits:
    """The `tenant_buckets` and `tenant_leases` tables."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def _row(self, conn: Connection, tenant: str, bucket: str) -> Row[Any, Any, Any, Any] | None:
        """The bucket's row, locked until the transaction ends (None: not created yet, but its name is locked)."""
        self.db.lock(conn, f"mendflow.limits:{tenant}:{bucket}")
        return conn.execute(_BUCKET, {"k_tenant": tenant, "k_bucket": bucket}).one_or_none()

    def _put(
        self,
        conn: Connection,
        exists: bool,
        tenant: str,
        bucket: str,
        *,
        capacity: float | None,
        tokens: float,
        reset_at: float | None,
        now: float,
    ) -> None:
        values = {"capacity": capacity, "tokens": tokens, "reset_at": reset_at, "updated_at": now}
        if exists:
            conn.execute(_PUT_BUCKET, {"k_tenant": tenant, "k_bucket": bucket, **values})
        else:
            conn.execute(_NEW_BUCKET, {"tenant": tenant, "bucket": bucket, **values})

    # ---- vendor windows ---------------------------------------------------------------------------------------

    def take_requests(self, tenant: str, bucket: str, want: int = 1) -> Grant:
        """Take up to `want` requests from the vendor's current window (fewer when it runs low)."""
        now = self.clock()
        with self.db.write() as conn:
            row = self._row(conn, tenant, bucket)
            capacity, tokens, reset_at = (
                (row.capacity, row.tokens, row.reset_at) if row is not None else (None, 0.0, None)
            )
            if capacity == UNMETERED:
                return Grant(want, 0.0, now + UNMETERED_LEND)
            if capacity is None:  # figures unknown: one probe at a time until an answer reports them
                if reset_at is not None and now < reset_at:
                    return Grant(0, POLL_SECONDS)
                self._put(conn, row is not None, tenant, bucket, capacity=None, tokens=0.0,
                          reset_at=now + PROBE_SECONDS, now=now)  # fmt: skip
                return Grant(1, 0.0)
            if reset_at is not None and now >= reset_at + RESET_MARGIN:
                tokens, reset_at = capacity, None  # a new window: full, its end known from the next answer
            if tokens < 1:
                return Grant(0, POLL_SECONDS if reset_at is None else max(reset_at + RESET_MARGIN - now, POLL_SECONDS))
            # A window whose end is not known yet (just refilled) lends one request at a time: one cannot say until
            # when more would be good for.
            granted = 1 if reset_at is None else max(1, min(want, math.floor(tokens * CHUNK_SHARE)))
            self._put(conn, True, tenant, bucket, capacity=capacity, tokens=tokens - granted, reset_at=reset_at,
                      now=now)  # fmt: skip
            return Grant(granted, 0.0, reset_at)

    def observe_window(self, tenant: str, bucket: str, *, limit: int, remaining: int, reset: float) -> None:
        """Fold what a vendor's answer said about a window into the shared figures (newest window wins; within a
        window the lowest count, since answers arrive out of order and requests granted may still be in flight)."""
        now = self.clock()
        if reset + RESET_MARGIN <= now:
            return  # a late answer about a window already over
        with self.db.write() as conn:
            row = self._row(conn, tenant, bucket)
            if row is None or row.capacity is None or row.capacity == UNMETERED:
                tokens = float(remaining)  # the first figures (or the first after answers without any)
            elif row.reset_at is None:
                tokens = min(row.tokens, remaining)
            elif reset > row.reset_at:
                tokens = float(remaining)
            elif reset == row.reset_at:
                tokens = min(row.tokens, remaining)
            else:
                return
            self._put(conn, row is not None, tenant, bucket, capacity=float(limit), tokens=tokens, reset_at=reset,
                      now=now)  # fmt: skip

    def observe_unmetered(self, tenant: str, bucket: str) -> None:
        """An answer reported no window: a bucket still unknown is not rate limited (a known window stays: one
        answer without headers does not lift a limit the vendor reported before)."""
        with self.db.write() as conn:
            row = self._row(conn, tenant, bucket)
            if row is None or row.capacity is None:
                self._put(conn, row is not None, tenant, bucket, capacity=UNMETERED, tokens=0.0, reset_at=None,
                          now=self.clock())  # fmt: skip

    def release_probe(self, tenant: str, bucket: str) -> None:
        """A probe got no answer at all (connection refused, timeout): the next request may probe at once instead of
        waiting PROBE_SECONDS, which is meant for a probe whose worker died. A known window is left as it is."""
        with self.db.write() as conn:
            row = self._row(conn, tenant, bucket)
            if row is not None and row.capacity is None:
                self._put(conn, True, tenant, bucket, capacity=None, tokens=0.0, reset_at=None, now=self.clock())

    # ---- write budget -----------------------------------------------------------------------------------------

    def take_write(self, tenant: str, per_minute: int, *, at: float | None = None) -> float:
        """Reserve one write of the tenant's budget; returns the seconds to wait before doing it (0: now). `at`: the
        time of the write by another clock than ours (the worker passes Temporal's, as the workflows pace by it)."""
        with self.db.write() as conn:
            return self._take_writes(conn, tenant, per_minute, self.clock() if at is None else at, 1)[0]

    def _take_writes(self, conn: Connection, tenant: str, per_minute: int, now: float, count: int) -> list[float]:
        """Reserve `count` writes at `now` with one read and one write of the bucket's row; per write, the seconds
        to wait (as `count` takes one after another would answer: each later write waits one token longer)."""
        if count <= 0:
            return []
        rate = per_minute / 60.0
        row = self._row(conn, tenant, WRITES)
        capacity = float(per_minute)
        if row is not None:  # a write timed before the bucket's last one must not turn its clock back (refill twice)
            now = max(now, row.updated_at)
        tokens = capacity if row is None else min(capacity, row.tokens + (now - row.updated_at) * rate)
        waits = []
        for _ in range(count):  # the writes share one instant: no refill between them, one token less each
            tokens -= 1
            waits.append(max(0.0, -tokens / rate))
        self._put(conn, row is not None, tenant, WRITES, capacity=capacity, tokens=tokens, reset_at=None, now=now)
        return waits

    # ---- concurrency leases -----------------------------------------------------------------------------------

    def try_lease(self, tenant: str, holder: str, *, limit: int, ttl: float) -> bool:
        """Take (or keep) one of the tenant's `limit` slots until `ttl` seconds from now; False when all are held."""
        with self.db.write() as conn:
            return bool(self._try_leases(conn, tenant, holder, 1, limit, ttl))

    def admit(
        self, tenant: str, holder: str, *, limit: int, ttl: float, per_minute: int, at: float | None = None
    ) -> float | None:
        """`try_lease`, then (with a slot) `take_write`, in one transaction: None when every slot is held, else the
        seconds to wait before writing. One round trip per write instead of two."""
        admitted = self.admit_chunk(
            tenant, holder, slots=1, writes=1, limit=limit, ttl=ttl, per_minute=per_minute, at=at
        )
        return None if admitted is None else admitted.waits[0]

    def admit_chunk(
        self,
        tenant: str,
        holder: str,
        *,
        slots: int,
        writes: int,
        limit: int,
        ttl: float,
        per_minute: int,
        at: float | None = None,
    ) -> Admission | None:
        """For a chunk of `writes` changes: up to `slots` of the tenant's `limit` concurrency slots (rows
        `holder#0…`, or `holder` for one) and `writes` writes of its budget, in one transaction. None when every
        slot is held. The budget is a token bucket: write i may go out `waits[i]` seconds after `at`."""
        with self.db.write() as conn:
            granted = self._try_leases(conn, tenant, holder, slots, limit, ttl)
            if not granted:
                return None
            waits = self._take_writes(conn, tenant, per_minute, self.clock() if at is None else at, writes)
            return Admission(holders=granted, waits=waits)

    def _try_leases(self, conn: Connection, tenant: str, holder: str, want: int, limit: int, ttl: float) -> list[str]:
        """Take (or keep: a retry takes over its dead attempt's rows) up to `want` slots: one named `holder`, several
        `holder#i`."""
        now = self.clock()
        self.db.lock(conn, f"mendflow.leases:{tenant}")  # always before a bucket's lock (admit): no lock cycle
        conn.execute(_EXPIRED_LEASES, {"k_tenant": tenant, "k_now": now})
        holders = set(conn.execute(_HOLDERS, {"k_tenant": tenant}).scalars())
        names = [holder] if want <= 1 else [f"{holder}#{i}" for i in range(want)]
        mine = [n for n in names if n in holders]
        free = max(limit - len(holders), 0)
        new = [n for n in names if n not in holders][:free]
        if mine:
            conn.execute(_RENEW_LEASES, {"k_tenant": tenant, "k_holders": mine, "expires_at": now + ttl})
        if new:
            conn.execute(_NEW_LEASE, [{"tenant": tenant, "holder": n, "expires_at": now + ttl} for n in new])
        return mine + new

    def renew_lease(self, tenant: str, holder: str | list[str], *, ttl: float) -> None:
        """Push a held lease's (or several leases') expiry to `ttl` seconds from now."""
        holders = [holder] if isinstance(holder, str) else holder
        with self.db.write() as conn:
            conn.execute(_RENEW_LEASES, {"k_tenant": tenant, "k_holders": holders, "expires_at": self.clock() + ttl})

    def release_lease(self, tenant: str, holder: str | list[str]) -> None:
        """Give the slot (or several slots) back."""
        holders = [holder] if isinstance(holder, str) else holder
        with self.db.write() as conn:
            conn.execute(_RELEASE_LEASES, {"k_tenant": tenant, "k_holders": holders})

    def leases(self, tenant: str) -> int:
        """Slots held now (unexpired leases)."""
        t = tenant_leases
        with self.db.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(t.c.tenant == tenant, t.c.expires_at > self.clock())
                ).scalar_one()
            )


__all__ = ["CHUNK_SHARE", "PROBE_SECONDS", "RESET_MARGIN", "UNMETERED", "WRITES", "Admission", "Grant", "TenantLimits"]
