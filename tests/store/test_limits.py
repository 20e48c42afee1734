"""Tenant limits in the database: vendor windows, the write budget and concurrency leases, on both backends."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from mendflow.runtime.limits import CHUNK, StoredWindows
from mendflow.store import Database
from mendflow.store.limits import POLL_SECONDS, PROBE_SECONDS, RESET_MARGIN, Grant, TenantLimits
from mendflow.store.schema import tenant_buckets


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_unknown_window_grants_one_probe_until_an_answer_reports_it(db: Database) -> None:
    """Before any answer, one request at a time; the answer's figures then decide."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    assert limits.take_requests("t", "core", 16) == Grant(1, 0.0)
    assert limits.take_requests("t", "core", 16) == Grant(0, POLL_SECONDS)
    limits.observe_window("t", "core", limit=100, remaining=99, reset=clock.now + 60)
    assert limits.take_requests("t", "core", 16).granted == 4  # 5% of 99: a worker takes a small share at once
    clock.now += PROBE_SECONDS + 1
    assert limits.take_requests("t", "other", 1) == Grant(1, 0.0)  # buckets are separate


def test_a_probe_without_answer_is_granted_again_later(db: Database) -> None:
    """A probe whose worker died never blocks the bucket: after PROBE_SECONDS another probe goes."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    assert limits.take_requests("t", "core").granted == 1
    clock.now += PROBE_SECONDS
    assert limits.take_requests("t", "core").granted == 1


def test_a_probe_that_got_no_answer_is_released_at_once(db: Database) -> None:
    """Connection refused: the probe reported nothing, so the retry probes now (it waited PROBE_SECONDS, 2 s a
    retry: a scan of a vendor that is down took 60 s instead of 17 in the time-skipping test)."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    assert limits.take_requests("t", "core").granted == 1
    assert limits.take_requests("t", "core") == Grant(0, POLL_SECONDS)
    limits.release_probe("t", "core")
    assert limits.take_requests("t", "core").granted == 1
    limits.observe_window("t", "core", limit=10, remaining=0, reset=clock.now + 30)
    limits.release_probe("t", "core")  # a known window is not a probe: releasing changes nothing
    assert limits.take_requests("t", "core").granted == 0


def test_an_exhausted_window_waits_for_its_reset_then_starts_full(db: Database) -> None:
    """No more than the window's remaining requests are granted; after the reset the whole limit is back."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    limits.take_requests("t", "core")
    limits.observe_window("t", "core", limit=10, remaining=5, reset=clock.now + 30)
    granted = sum(limits.take_requests("t", "core", 16).granted for _ in range(8))
    assert granted == 5
    assert limits.take_requests("t", "core") == Grant(0, 30 + RESET_MARGIN)
    clock.now += 30 + RESET_MARGIN
    assert sum(limits.take_requests("t", "core", 16).granted for _ in range(20)) == 10


def test_answers_lower_the_count_within_a_window_and_a_newer_window_replaces_it(db: Database) -> None:
    """Out-of-order answers: the lowest count of a window wins; an answer about a newer window starts it afresh;
    an answer about a window already over changes nothing."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    limits.take_requests("t", "core")
    limits.observe_window("t", "core", limit=100, remaining=3, reset=clock.now + 10)
    limits.observe_window("t", "core", limit=100, remaining=50, reset=clock.now + 10)
    assert sum(limits.take_requests("t", "core", 16).granted for _ in range(10)) == 3
    limits.observe_window("t", "core", limit=100, remaining=2, reset=clock.now + 70)
    assert sum(limits.take_requests("t", "core", 16).granted for _ in range(10)) == 2
    limits.observe_window("t", "core", limit=100, remaining=90, reset=clock.now - 5)
    assert limits.take_requests("t", "core").granted == 0


def test_the_write_budget_allows_a_minute_of_writes_then_paces_them(db: Database) -> None:
    """per_minute writes at once, then each further write waits its share of a minute (reservations queue)."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    assert [limits.take_write("t", 6) for _ in range(6)] == [0.0] * 6
    assert [limits.take_write("t", 6) for _ in range(3)] == [10.0, 20.0, 30.0]
    clock.now += 60
    assert limits.take_write("t", 6) == 0.0  # 30 s of reservations repaid, 3 tokens back
    assert limits.take_write("u", 6) == 0.0  # another tenant has its own budget


def test_leases_cap_concurrency_and_expire_when_not_renewed(db: Database) -> None:
    """At most `limit` holders; renewing keeps a slot; a lease left to expire (a killed worker) frees it."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    assert limits.try_lease("t", "a", limit=2, ttl=10)
    assert limits.try_lease("t", "b", limit=2, ttl=10)
    assert not limits.try_lease("t", "c", limit=2, ttl=10)
    assert limits.try_lease("t", "a", limit=2, ttl=10)  # held already: renewed
    assert limits.try_lease("u", "c", limit=2, ttl=10)  # another tenant
    clock.now += 9
    limits.renew_lease("t", "a", ttl=10)
    clock.now += 2
    assert limits.leases("t") == 1  # b expired, a renewed
    assert limits.try_lease("t", "c", limit=2, ttl=10)
    limits.release_lease("t", "a")
    assert limits.leases("t") == 1


def test_racing_workers_never_take_more_than_the_window_holds(database_url: str) -> None:
    """Eight threads, each with its own engine, drain a window of 500: exactly 500 granted in all."""
    setup = Database.open(database_url)
    limits = TenantLimits(setup)
    limits.take_requests("t", "core")
    limits.observe_window("t", "core", limit=1000, remaining=500, reset=limits.clock() + 3600)

    start = threading.Barrier(8)

    def drain(_: int) -> int:
        own = TenantLimits(Database.open(database_url))
        start.wait(timeout=30)
        total = 0
        while (grant := own.take_requests("t", "core", 16)).granted:
            total += grant.granted
        own.db.dispose()
        return total

    with ThreadPoolExecutor(8) as pool:
        totals = list(pool.map(drain, range(8)))
    assert sum(totals) == 500
    setup.dispose()


def _tokens(db: Database, bucket: str) -> float:
    with db.read() as conn:
        return float(
            conn.execute(sa.select(tenant_buckets.c.tokens).where(tenant_buckets.c.bucket == bucket)).scalar_one()
        )


async def test_a_worker_spends_taken_requests_only_while_their_window_lasts(db: Database) -> None:
    """Requests a worker took at once are spent without asking, but not after their window ended (the vendor
    would count them against the next one, which the shared count hands out whole)."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    windows = StoredWindows(limits, "t")
    assert await windows.take("core") == 0.0  # the probe
    await windows.report("core", limit=1000, remaining=999, reset=clock.now + 10)
    assert await windows.take("core") == 0.0  # took CHUNK at once (5% of 999 is more)
    assert _tokens(db, "vendor:core") == 999 - CHUNK
    for _ in range(CHUNK - 1):
        assert await windows.take("core") == 0.0
    assert _tokens(db, "vendor:core") == 999 - CHUNK  # spent without asking
    assert await windows.take("core") == 0.0
    assert _tokens(db, "vendor:core") == 999 - 2 * CHUNK
    clock.now += 10 + RESET_MARGIN
    assert await windows.take("core") == 0.0  # CHUNK - 1 still held, but their window is over: asks the row
    assert _tokens(db, "vendor:core") == 1000 - 1  # a new window, lent one at a time until its end is known


def test_admit_takes_a_slot_and_a_write_in_one_go_and_nothing_without_a_slot(db: Database) -> None:
    """A write admitted holds a slot and spent a token of the budget; refused for want of a slot, it spent none."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    assert limits.admit("t", "a", limit=1, ttl=10, per_minute=2) == 0.0
    assert limits.admit("t", "b", limit=1, ttl=10, per_minute=2) is None
    limits.release_lease("t", "a")
    assert limits.admit("t", "b", limit=1, ttl=10, per_minute=2) == 0.0  # the second token of two
    limits.release_lease("t", "b")
    assert limits.admit("t", "c", limit=1, ttl=10, per_minute=2) == 30.0  # the budget is spent: wait for a token


def test_a_chunk_is_admitted_on_the_free_slots_with_a_wait_per_write(db: Database) -> None:
    """A chunk takes up to the slots it wants of those free (at least one, else nothing and no budget spent); its
    retry takes over its own slots; each write waits for its own token of the budget."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    assert limits.try_lease("t", "other", limit=4, ttl=10)
    first = limits.admit_chunk("t", "wf/1", slots=4, writes=3, limit=4, ttl=10, per_minute=2, at=clock.now)
    assert first is not None and first.holders == ["wf/1#0", "wf/1#1", "wf/1#2"]  # one slot was taken already
    assert first.waits == [0.0, 0.0, 30.0]  # two tokens in the bucket, the third write waits for a refill
    assert limits.admit_chunk("t", "wf/2", slots=2, writes=1, limit=4, ttl=10, per_minute=2, at=clock.now) is None
    again = limits.admit_chunk("t", "wf/1", slots=4, writes=1, limit=4, ttl=10, per_minute=2, at=clock.now)
    assert again is not None and again.holders == ["wf/1#0", "wf/1#1", "wf/1#2"]  # a retry: its own rows
    assert limits.leases("t") == 4
    limits.release_lease("t", again.holders)
    assert limits.leases("t") == 1
    clock.now += 11  # the other holder's lease expired
    freed = limits.admit_chunk("t", "wf/2", slots=8, writes=0, limit=4, ttl=10, per_minute=2, at=clock.now)
    assert freed is not None and len(freed.holders) == 4 and freed.waits == []


def test_a_bucket_whose_answers_report_no_window_is_not_held_back(db: Database) -> None:
    """No rate-limit headers on the probe's answer: the bucket lends freely (no one-request-per-probe crawl); once
    an answer reports a window, it counts again; a known window is not lifted by one answer without headers."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    assert limits.take_requests("t", "core").granted == 1
    limits.observe_unmetered("t", "core")
    assert [limits.take_requests("t", "core", 32).granted for _ in range(3)] == [32, 32, 32]
    limits.observe_window("t", "core", limit=100, remaining=3, reset=clock.now + 60)
    assert sum(limits.take_requests("t", "core", 32).granted for _ in range(5)) == 3
    limits.observe_unmetered("t", "core")
    assert limits.take_requests("t", "core").granted == 0


def test_a_write_admitted_with_an_older_time_does_not_turn_the_budget_back(db: Database) -> None:
    """A chunk admitted with its attempt's scheduled time, older than the bucket's last write (it waited for a slot
    meanwhile), must not move the bucket's clock back: the next write would be refilled for that span twice and the
    tenant write more than its per-minute budget."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    now = clock.now
    first = limits.admit_chunk("t", "wf/1", slots=1, writes=2, limit=4, ttl=10, per_minute=2, at=now)
    assert first is not None and first.waits == [0.0, 0.0]  # the minute's two writes
    late = limits.admit_chunk("t", "wf/2", slots=1, writes=1, limit=4, ttl=10, per_minute=2, at=now - 60)
    assert late is not None and late.waits == [30.0]  # the third write of the minute: half a minute on
    after = limits.admit_chunk("t", "wf/3", slots=1, writes=1, limit=4, ttl=10, per_minute=2, at=now + 1)
    assert after is not None and after.waits == [pytest.approx(59.0)]  # the fourth: a minute after the first two


def test_a_chunk_takes_its_writes_as_one_take_each_would_with_one_read_and_one_write_of_the_bucket(
    db: Database,
) -> None:
    """A chunk's writes wait what the same writes taken one by one would, and the bucket's row is read once and
    written once for the whole chunk (it was a read and a write per change: 32 statements for a chunk of 16)."""
    clock = Clock()
    limits = TenantLimits(db, clock=clock)
    one_by_one = [limits.take_write("a", 3, at=clock.now) for _ in range(5)]
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        chunk = limits.admit_chunk("b", "wf/1", slots=1, writes=5, limit=4, ttl=10, per_minute=3, at=clock.now)
        assert chunk is not None and chunk.waits == one_by_one == [0.0, 0.0, 0.0, 20.0, 40.0]
        statements.clear()
        again = limits.admit_chunk("b", "wf/2", slots=1, writes=16, limit=4, ttl=10, per_minute=3, at=clock.now + 7)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert again is not None and again.waits[0] == limits.take_write("a", 3, at=clock.now + 7) == pytest.approx(53.0)
    assert len([s for s in statements if "tenant_buckets" in s]) == 2, statements


class CountingLimits(TenantLimits):
    """Real limits in the database, counting how often a worker asks for vendor requests."""

    takes = 0

    def take_requests(self, tenant: str, bucket: str, want: int = 1) -> Grant:
        self.takes += 1
        return super().take_requests(tenant, bucket, want)


async def test_concurrent_requests_of_one_worker_ask_the_database_once_per_chunk_of_the_window(db: Database) -> None:
    """Sixteen tasks sending three requests each take the window's requests CHUNK at a time: two asks for 48, and
    the shared count lost no more than those two chunks (each task asked at once and each grant replaced the one
    before: 16 asks, 512 requests gone from the window for 48 sent)."""
    clock = Clock()
    limits = CountingLimits(db, clock=clock)
    windows = StoredWindows(limits, "t")
    assert await windows.take("core") == 0.0  # the probe
    await windows.report("core", limit=100_000, remaining=99_999, reset=clock.now + 3600)
    limits.takes = 0

    async def task() -> None:
        for _ in range(3):
            assert await windows.take("core") == 0.0
            await asyncio.sleep(0.001)  # the vendor's answer

    await asyncio.gather(*(task() for _ in range(16)))
    assert limits.takes == 2
    assert _tokens(db, "vendor:core") == 99_999 - 2 * CHUNK


async def test_a_worker_waiting_on_a_probe_asks_once_per_wait_and_again_as_soon_as_it_is_answered(
    db: Database,
) -> None:
    """While a probe's answer is awaited, the worker's other tasks wait the answer's time without each asking the
    database; the probe's answer lets the next take ask at once."""
    clock = Clock()
    limits = CountingLimits(db, clock=clock)
    windows = StoredWindows(limits, "t")
    assert await windows.take("core") == 0.0  # the probe, in flight
    waits = await asyncio.gather(*(windows.take("core") for _ in range(8)))
    assert waits == [pytest.approx(POLL_SECONDS)] * 8
    assert limits.takes == 2  # the probe and one answer for the eight
    await windows.report("core", limit=100, remaining=99, reset=clock.now + 60)
    assert await windows.take("core") == 0.0
    assert limits.takes == 3
