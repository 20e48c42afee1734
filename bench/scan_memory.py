"""The worker's memory in the scan that starts a 10,000-target campaign (`python bench/scan_memory.py`; issue 11).

Prints figures, asserts nothing. The scan part of `bench/campaigns.py --only 10000`, run the same way: a generated
GitHub org of 20,000 repositories (10,000 insecure hooks) served by `mendflow sim github --tenant-file` in its own
process; a ScanWorkflow on the embedded dev server; the worker in this process. The worker runs only the scan role
(`build_worker(roles=[scan])`): the campaign the scan starts gets its first workflow task, but none of its
activities run here, so what is measured is the scan's (the campaign is terminated afterwards).

A thread samples this process's RSS every few milliseconds; the scan's history gives each activity's start and end,
so each phase (collect_inventory, evaluate_rules, reconcile_findings, then starting the campaign) gets its own peak
and its growth over the RSS it started from. `--tracemalloc` also snapshots Python's allocations whenever they reach
a new high (slow: use it to find where a peak comes from, not for the figures) and prints the biggest allocation
sites of the highest snapshot, by the innermost mendflow line that led to them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from harness import github_sim, hook_playbook
from mendflow.activities.scan import ScanActivities
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import ActivityEnvironment

from mendflow.campaigns.windows import ChangePolicy
from mendflow.config import TenantConnection, TenantRegistry
from mendflow.playbooks.model import Playbook
from mendflow.routing import Role
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.ports import free_port
from mendflow.runtime.worker import build_worker
from mendflow.secrets import SecretRef
from mendflow.settings import Settings
from mendflow.telemetry import configure_logging
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import EvaluateInput, ReconcileInput, ScanInput, ScanResult

TARGETS = 10_000
TOKEN_ENV = "MENDFLOW_BENCH_SCAN_MEMORY_TOKEN"
SAMPLE_S = 0.005
SNAPSHOT_GROWTH = 1.2
"""--tracemalloc: a new snapshot when traced memory exceeds the last snapshot's by this factor."""
PLAYBOOK = hook_playbook(  # as bench/campaigns.py's
    "high", mode="auto", rollout={"canary": 1, "batches": ["10%", "100%"], "bake": "0s", "max_failures": 0}
)
MB = 1 << 20
NOW = datetime(2026, 12, 1, tzinfo=UTC)
T = TypeVar("T")


def _status_kb(field_name: str, pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    """Start this process's VmHWM afresh (Linux: writing 5 to clear_refs)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


@dataclass
class Sampler:
    """RSS of this process (and, with tracemalloc on, Python's traced memory) every `SAMPLE_S` seconds."""

    samples: list[tuple[float, int]] = field(default_factory=list)
    snapshots: list[tuple[float, int, tracemalloc.Snapshot]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    _last: int = 0

    def new_phase(self) -> None:
        """Snapshot the next phase's highs even if they stay below the last phase's."""
        self._last = 0

    def run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.samples.append((time.time(), _status_kb("VmRSS") * 1024))
            if tracemalloc.is_tracing():
                current, _ = tracemalloc.get_traced_memory()
                if current > self._last * SNAPSHOT_GROWTH and current > 32 * MB:
                    self.snapshots.append((time.time(), current, tracemalloc.take_snapshot()))
                    self._last = current

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()

    def window(self, start: float, end: float) -> tuple[int, int]:
        """(RSS just before `start`, peak RSS in [start, end])."""
        before = [rss for t, rss in self.samples if t <= start]
        inside = [rss for t, rss in self.samples if start <= t <= end]
        base = before[-1] if before else (inside[0] if inside else 0)
        return base, max(inside, default=base)


def _generate(targets: int, path: Path) -> None:
    """As bench/campaigns.py: 2 insecure hooks per 4 repositories' clones, written by a child process."""
    code = (
        "import json, sys; from mendflow.sim.generate import github_tenant; "
        f"json.dump(github_tenant(repos={-(-targets // 2) * 4}, members=5), open(sys.argv[1], 'w'))"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def _phases(history: WorkflowHistory) -> list[tuple[str, float, float]]:
    """(activity name, started, completed) of each activity of the scan, then the campaign start (workflow)."""
    names: dict[int, str] = {}
    started: dict[int, float] = {}
    out: list[tuple[str, float, float]] = []
    last = 0.0
    for e in history.events:
        at = e.event_time.ToDatetime().timestamp()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            names[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[e.activity_task_started_event_attributes.scheduled_event_id] = at
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            scheduled = e.activity_task_completed_event_attributes.scheduled_event_id
            out.append((names[scheduled], started[scheduled], at))
            last = at
    end = history.events[-1].event_time.ToDatetime().timestamp()
    out.append(("start campaigns (workflow)", last, end))
    return out


def _by_mendflow_line(snapshot: tracemalloc.Snapshot, top: int) -> list[tuple[str, int, int]]:
    """(innermost mendflow frame, bytes, blocks) of the live allocations, biggest first."""
    sites: dict[str, list[int]] = {}
    for stat in snapshot.statistics("traceback"):  # grouped in C: far fewer than the traces
        where = "elsewhere"
        for frame in reversed(stat.traceback):  # most recent call first
            name = frame.filename
            if "/mendflow/" in name or "/activities/" in name or "/workflows/" in name:
                where = f"{name.split('/mendflow/')[-1].split('/main/')[-1]}:{frame.lineno}"
                break
        entry = sites.setdefault(where, [0, 0])
        entry[0] += stat.size
        entry[1] += stat.count
    ranked = sorted(((w, s, n) for w, (s, n) in sites.items()), key=lambda x: -x[1])
    return ranked[:top]


async def measure(
    client: Client, server: DevServer, tenant_file: Path, targets: int, root: Path, keep: Path | None
) -> None:
    token = secrets.token_urlsafe(24)
    os.environ[TOKEN_ENV] = token
    with github_sim(tenant_file, TOKEN_ENV) as (connection, _sim):
        playbook = Playbook.model_validate(PLAYBOOK)
        context = WorkerContext(
            registry=TenantRegistry(tenants={connection.key: connection}),
            data_dir=root / "worker",
            playbooks={playbook.id: playbook},
            settings=Settings(changes=ChangePolicy(default_concurrency=8, default_writes_per_minute=100_000_000)),
        )
        queue = f"bench-{uuid.uuid4()}"
        sampler = Sampler()
        async with build_worker(client, context, task_queue=queue, roles=[Role.scan]):
            _reset_peak()
            idle = _status_kb("VmRSS") * 1024
            scan_id = f"scan-{uuid.uuid4()}"
            with sampler.running():
                began = time.perf_counter()
                scan: ScanResult = await client.execute_workflow(
                    "ScanWorkflow", ScanInput(tenant_key=connection.key), id=scan_id, task_queue=queue,
                    result_type=ScanResult,
                )  # fmt: skip
                seconds = time.perf_counter() - began
            for campaign in scan.campaigns_started:  # its activities would run on a remediation worker: none here
                await client.get_workflow_handle(campaign).terminate("bench/scan_memory.py measures the scan only")
        peak = _status_kb("VmHWM") * 1024
        history = await client.get_workflow_handle(scan_id).fetch_history()
        context.close()
    server_mb = _status_kb("VmHWM", server.pid) / 1024 if server.pid else float("nan")
    print(
        f"scan of {scan.resources:,} resources -> {scan.findings:,} findings, {len(scan.campaigns_started)} campaign(s)"
        f" in {seconds:.1f}s; worker RSS idle {idle / MB:.0f} MB, peak {peak / MB:.0f} MB (VmHWM), "
        f"server peak {server_mb:.0f} MB; snapshot {scan.snapshot}"
    )
    for name, start, end in _phases(history):
        base, top = sampler.window(start, end)
        growth = (top - base) / MB
        print(f"  {name:<28} {end - start:6.1f}s  RSS {base / MB:5.0f} -> peak {top / MB:5.0f} MB (+{growth:.0f})")
    if keep is not None:
        (keep / "snapshot").write_text(scan.snapshot)
    _print_sites(sampler, _phases(history))


def _print_sites(sampler: Sampler, phases: list[tuple[str, float, float]]) -> None:
    """Each phase's highest --tracemalloc snapshot: its biggest live allocation sites."""
    for name, start, end in phases:
        mine = [(size, snapshot) for at, size, snapshot in sampler.snapshots if start <= at <= end]
        if not mine:
            continue
        size, snapshot = max(mine, key=lambda s: s[0])
        print(f"  {name}: highest traced Python memory {size / MB:.0f} MB; live allocations by mendflow line:")
        for where, size_b, blocks in _by_mendflow_line(snapshot, 10):
            print(f"    {size_b / MB:7.1f} MB {blocks:>9,} blocks  {where}")


async def phases_only(kept: Path) -> None:
    """evaluate_rules and reconcile_findings again, called directly on the kept inventory with an empty ledger:
    seconds instead of the collection's minutes, for trying a change. Peaks per phase from VmHWM (reset before each),
    traced Python memory's peak too with --tracemalloc."""
    playbook = Playbook.model_validate(PLAYBOOK)
    connection = TenantConnection(
        key="github:acme", provider="github", tenant="acme", base_url="http://127.0.0.1:9", token=SecretRef(ref="env:X")
    )

    def context(data_dir: Path) -> WorkerContext:
        registry = TenantRegistry(tenants={connection.key: connection})
        return WorkerContext(registry=registry, data_dir=data_dir, playbooks={playbook.id: playbook})

    digest = (kept / "snapshot").read_text().strip()
    with tempfile.TemporaryDirectory() as tmp:
        old, fresh = context(kept / "worker"), context(Path(tmp))
        writer = fresh.snapshots.writer()
        for line in old.snapshots.read_lines(digest):
            writer.write(line)
        assert writer.close() == digest
        old.close()
        scan = ScanActivities(fresh)
        env = ActivityEnvironment()
        sampler = Sampler()
        phases: list[tuple[str, float, float]] = []
        peaks: list[tuple[int, int]] = []

        async def phase(name: str, call: Awaitable[T]) -> T:
            _reset_peak()
            if tracemalloc.is_tracing():
                tracemalloc.reset_peak()
                sampler.new_phase()
            start = time.time()
            out = await call
            phases.append((name, start, time.time()))
            peaks.append((_status_kb("VmHWM") * 1024, tracemalloc.get_traced_memory()[1]))
            return out

        with sampler.running():
            evaluated = await phase(
                "evaluate_rules",
                env.run(scan.evaluate_rules, EvaluateInput(tenant_key=connection.key, snapshot=digest, as_of=NOW)),
            )
            request = ReconcileInput(
                tenant_key=connection.key, findings=evaluated.findings, rules=evaluated.rules, seen_at=NOW,
                snapshot=digest,
            )  # fmt: skip
            reconciled = await phase("reconcile_findings", env.run(scan.reconcile_findings, request))
        fresh.close()
    print(f"{evaluated.count:,} findings, {len(reconciled.campaigns)} campaign(s), evaluated and reconciled directly:")
    for (name, start, end), (hwm, traced) in zip(phases, peaks, strict=True):
        base, _ = sampler.window(start, end)
        python = f", traced Python peak {traced / MB:.0f} MB" if traced else ""
        print(f"  {name:<20} {end - start:6.1f}s  RSS {base / MB:5.0f} -> peak {hwm / MB:5.0f} MB (VmHWM){python}")
    _print_sites(sampler, phases)


async def main_async(targets: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = keep or Path(tmp)
        tenant_file = root / f"tenant-{targets}.json"
        _generate(targets, tenant_file)
        with DevServer(data_dir=root, port=free_port(), headless=True) as server:
            client = await connect(TemporalSettings(address=server.address))
            await measure(client, server, tenant_file, targets, root, keep)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=TARGETS, help=f"insecure hooks (default {TARGETS:,})")
    parser.add_argument("--tracemalloc", action="store_true", help="also find the biggest allocation sites (slow)")
    parser.add_argument("--keep", type=Path, help="keep the worker's database (its snapshot) in this new folder")
    parser.add_argument("--phases-only", type=Path, metavar="KEPT", help="only evaluate + reconcile a --keep folder")
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    if args.tracemalloc:
        tracemalloc.start(12)
    if args.phases_only:
        asyncio.run(phases_only(args.phases_only))
        return
    if args.keep:
        args.keep.mkdir(parents=True)
    asyncio.run(main_async(args.targets, args.keep))


if __name__ == "__main__":
    main()
