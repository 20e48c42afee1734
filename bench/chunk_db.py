"""The database cost of one `apply_changes` chunk of 16 changes (issue 11): what the worker spends on the tenant's
shared limits and on recording the chunk's outcomes, without Temporal or a vendor in the way.

Per chunk, as a campaign's worker runs it:
- **admit**: `TenantLimits.admit_chunk` (8 slots, 16 writes of the budget), then `release_lease`;
- **windows**: the chunk's 48 vendor requests (a re-read to prepare, the write, the re-read to verify, for 16
  changes at once) taken from the shared window through one process's `StoredWindows`, 16 at a time;
- **record**: `RemediationActivities._record_all` of 16 verified changes (ledger marks, evidence snapshots, audit
  chain), the activity's own record path (run in `ActivityEnvironment`).

Prints, per part, the median wall milliseconds per chunk (3 runs of `--chunks` chunks each, median of the runs)
and the SQL statements and transactions per chunk (counted on the engine). SQLite by default; `--postgres` also
on the suite's throw-away PostgreSQL server. Asserts nothing.

    python bench/chunk_db.py [--chunks 60] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from temporalio.testing import ActivityEnvironment

sys.path.insert(0, str(Path(__file__).parents[1]))  # activities/ and tests.store.postgres

from activities.remediation import RemediationActivities
from mendflow.campaigns.windows import ChangePolicy
from mendflow.config import TenantConnection, TenantRegistry
from mendflow.findings.store import FindingStatus
from mendflow.models import Change, Outcome, ResourceRef, fingerprint
from mendflow.runtime.limits import StoredWindows
from mendflow.secrets import SecretRef
from mendflow.settings import Settings
from mendflow.store.limits import TenantLimits
from mendflow.store.schema import findings
from mendflow.telemetry import configure_logging
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import ChangeStep, StepOutcome

CHUNK = 16
RUNS = 3
REQUESTS_PER_CHANGE = 3
TENANT = "github:acme"
PLAYBOOK = "github.repo_hook.insecure_ssl"


class Counter:
    """SQL statements and transactions run on an engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.statements = 0
        self.transactions = 0
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "begin", self._begin)

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _begin(self, *_: Any) -> None:
        self.transactions += 1

    def snapshot(self) -> tuple[int, int]:
        return self.statements, self.transactions


def _seed(context: WorkerContext, campaign: str, resources: list[str]) -> None:
    """The chunk's findings in the ledger, remediating in the campaign (what `mark_verified_many` updates)."""
    rows = [
        {
            "tenant": "acme",
            "fingerprint": fingerprint("acme", PLAYBOOK, rid),
            "rule": PLAYBOOK,
            "resource_id": rid,
            "severity": "high",
            "status": FindingStatus.remediating.value,
            "campaign": campaign,
            "first_seen": "2026-12-01T00:00:00+00:00",
            "last_seen": "2026-12-01T00:00:00+00:00",
            "body": "{}",
        }
        for rid in resources
    ]
    with context.database.write() as conn:
        conn.execute(sa.insert(findings), rows)


def _entries(resources: list[str]) -> list[tuple[ChangeStep, StepOutcome, Change | None]]:
    out: list[tuple[ChangeStep, StepOutcome, Change | None]] = []
    for rid in resources:
        ref = ResourceRef(type="github.repo_hook", id=rid)
        change = Change(
            resource=ref,
            action="github.repo_hook.update_config",
            before={"insecure_ssl": "1"},
            after={"insecure_ssl": "0"},
        )
        step = ChangeStep(tenant_key=TENANT, playbook_id=PLAYBOOK, resource=ref, change=change)
        out.append((step, StepOutcome(outcome=Outcome.verified), None))
    return out


async def _requests(windows: StoredWindows) -> None:
    """The chunk's vendor requests, 16 changes at once, each waiting a little for its answer."""

    async def change() -> None:
        for _ in range(REQUESTS_PER_CHANGE):
            while (wait := await windows.take("core")) > 0:  # noqa: ASYNC110 (polls the database, as the HTTP layer does)
                await asyncio.sleep(wait)
            await asyncio.sleep(0.002)  # the vendor's answer
            await windows.report("core", limit=100_000_000, remaining=99_000_000, reset=reset)

    reset = float(int(time.time()) + 3600)
    await asyncio.gather(*(change() for _ in range(CHUNK)))


def _timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run_once(url: str, root: Path, chunks: int) -> dict[str, tuple[float, float, float]]:
    """Per part: (median ms per chunk, statements per chunk, transactions per chunk)."""
    connection = TenantConnection(
        key=TENANT,
        provider="github",
        tenant="acme",
        base_url="http://127.0.0.1:9",
        token=SecretRef(ref="env:MENDFLOW_BENCH_UNUSED"),
    )
    policy = ChangePolicy(default_concurrency=8, default_writes_per_minute=100_000_000)
    context = WorkerContext(
        registry=TenantRegistry(tenants={TENANT: connection}),
        data_dir=root / f"worker-{uuid.uuid4().hex[:8]}",
        playbooks={},
        settings=Settings(changes=policy),
        database_url=url,
    )
    counter = Counter(context.database.engine)
    limits = TenantLimits(context.database)
    activities = RemediationActivities(context)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=f"campaign-{uuid.uuid4().hex[:8]}")
    campaign = env.info.workflow_id
    times: dict[str, list[float]] = {"admit": [], "windows": [], "record": []}
    counts: dict[str, list[tuple[int, int]]] = {name: [] for name in times}

    def measured(name: str, work: Callable[[], Any]) -> None:
        before = counter.snapshot()
        times[name].append(_timed(work))
        after = counter.snapshot()
        counts[name].append((after[0] - before[0], after[1] - before[1]))

    windows = StoredWindows(limits, TENANT)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_requests(windows))  # the probe and the first figures, before timing
    for n in range(chunks):
        resources = [f"/repos/acme/r{n}-{i}/hooks/{i}" for i in range(CHUNK)]
        _seed(context, campaign, resources)
        entries = _entries(resources)

        def admit(n: int = n) -> None:
            admission = limits.admit_chunk(
                TENANT, f"{campaign}/{n}", slots=8, writes=CHUNK, limit=8, ttl=30, per_minute=100_000_000,
                at=time.time(),
            )  # fmt: skip
            assert admission is not None
            limits.release_lease(TENANT, admission.holders)

        measured("admit", admit)
        measured("windows", lambda: loop.run_until_complete(_requests(windows)))
        measured("record", lambda entries=entries: loop.run_until_complete(env.run(activities._record_all, entries)))
    loop.close()
    context.close()
    return {
        name: (
            statistics.median(values) * 1000,
            statistics.mean(c[0] for c in counts[name]),
            statistics.mean(c[1] for c in counts[name]),
        )
        for name, values in times.items()
    }


def measure(url_for: Callable[[Path], str], label: str, chunks: int) -> None:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(RUNS):
            runs.append(run_once(url_for(Path(tmp) / str(run)), Path(tmp) / str(run), chunks))
    parts = []
    for name in runs[0]:
        ms = statistics.median(r[name][0] for r in runs)
        statements, transactions = runs[-1][name][1], runs[-1][name][2]
        parts.append(f"{name} {ms:.2f} ms ({statements:.1f} statements, {transactions:.1f} transactions)")
    total = statistics.median(sum(r[name][0] for name in r) for r in runs)
    print(f"chunk of {CHUNK} on {label}, per chunk (median of {RUNS} runs of {chunks}): {'; '.join(parts)}; "
          f"total {total:.2f} ms")  # fmt: skip


@contextmanager
def postgres_server() -> Iterator[Callable[[Path], str]]:
    from tests.store.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield lambda _: server.create_database()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=60)
    parser.add_argument("--postgres", action="store_true", help="also on a throw-away PostgreSQL server")
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    measure(lambda root: f"sqlite:///{root / 'mendflow.sqlite3'}", "SQLite", args.chunks)
    if args.postgres:
        with postgres_server() as url_for:
            measure(url_for, "PostgreSQL", args.chunks)


if __name__ == "__main__":
    main()
