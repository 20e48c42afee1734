"""Auto-fix campaigns at scale on the embedded dev server (`make bench`, or `python bench/campaigns.py`).

Prints figures, asserts nothing. For 200 and 1,000 targets (and 10,000 with `--huge`): a generated GitHub org
with that many insecure repository webhooks is served by the simulator in its own process (`mendflow sim github
--tenant-file`); a ScanWorkflow on the tuned embedded dev server (SQLite file, as `mendflow up` runs it) finds
them and starts one auto-fix campaign, which a worker in this process runs to completion. Per size:

- campaign throughput as a ratio of bare Temporal in the same run: one workflow running as many no-op activities
  as the campaign ran, with the same concurrency, on the same server (1.0 = no cost beyond Temporal's own), and
  the same activities one at a time (the ceiling of the campaign as it was: everything in sequence);
- time from scan start to the first verified change (p50 over the runs);
- the largest single workflow history (bytes, summed event sizes) and the campaign's bytes of history per target;
- peak RSS of this process (worker + client) and of the Temporal server;
- CPU per target while the campaign runs, of this process (the worker), the simulator and the Temporal server:
  on a machine shared with others, CPU time says where the time goes better than wall time does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from harness import github_sim, hook_playbook
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from mendflow.campaigns.windows import ChangePolicy
from mendflow.config import TenantRegistry
from mendflow.playbooks.model import Playbook
from mendflow.routing import Activity
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.ports import free_port
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.telemetry import configure_logging
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import ScanInput, ScanResult

SIZES = (200, 1_000)
HUGE = 10_000
RUNS = {200: 3, 1_000: 3, HUGE: 1}
CONCURRENCY = 8
TOKEN_ENV = "MENDFLOW_BENCH_CAMPAIGN_TOKEN"
SEQUENTIAL_MAX = 5_000
"""Above this many activities the one-at-a-time baseline is not run: one workflow running them in sequence needs a
workflow task per activity, ~6 events each, past the server's 51,200-event history limit at 10,000 targets."""
BASELINE_TODAY = (0.51, 0.58)
"""The issue's figures at 200 targets before this work (campaign / bare Temporal in the same run)."""

PLAYBOOK = hook_playbook(
    "high", mode="auto", rollout={"canary": 1, "batches": ["10%", "100%"], "bake": "0s", "max_failures": 0}
)


# ---- bare Temporal: the same number of activities, no work in them ----------------------------------------------
@activity.defn(name="bench_noop")
async def noop(_: int) -> int:
    return 0


@workflow.defn(name="BenchBare")
class BareWorkflow:
    def __init__(self) -> None:
        self.running = 0
        self.tasks: list[asyncio.Future[None]] = []

    @workflow.run
    async def run(self, counts: list[int]) -> None:
        total, limit = counts
        for i in range(total):
            await workflow.wait_condition(lambda: self.running < limit)
            self.running += 1
            self.tasks.append(asyncio.ensure_future(self.one(i)))
        await workflow.wait_condition(lambda: self.running == 0)

    async def one(self, i: int) -> None:
        try:
            await workflow.execute_activity(noop, i, start_to_close_timeout=timedelta(minutes=1))
        finally:
            self.running -= 1


async def bare_seconds(client: Client, activities: int, concurrency: int) -> float:
    """Bare Temporal's time for `activities` no-op activities, `concurrency` at once, in one workflow (which
    continues nowhere: at 10,000 the history stays under the limit with no payloads)."""
    queue = f"bare-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BareWorkflow],
        activities=[noop],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        started = time.perf_counter()
        await client.execute_workflow(BareWorkflow.run, [activities, concurrency], id=queue, task_queue=queue)
        return time.perf_counter() - started


# ---- the campaign ------------------------------------------------------------------------------------------------
@dataclass
class Figures:
    targets: int
    campaign_s: float
    activities: int
    first_verified_s: float
    max_history: int
    bytes_per_target: float
    runs: int
    verified: int
    cpu_ms: dict[str, float]
    """CPU milliseconds per target during the campaign: worker, simulator, server."""


def _generate(targets: int, path: Path) -> None:
    """Write the tenant file in a child process, so this process's peak RSS is the worker's, not the generator's."""
    code = (
        "import json, sys; from mendflow.sim.generate import github_tenant; "
        f"json.dump(github_tenant(repos={-(-targets // 2) * 4}, members=5), open(sys.argv[1], 'w'))"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def _vm_hwm_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process (pid None) or of another one (from /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_peak() -> None:
    """Start this process's VmHWM afresh (Linux: writing 5 to clear_refs)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


async def _histories(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow, first to last (following continue-as-new)."""
    runs = [e async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    runs.sort(key=lambda e: e.start_time)
    return [await client.get_workflow_handle(workflow_id, run_id=e.run_id).fetch_history() for e in runs]


def _size(history: WorkflowHistory) -> int:
    return sum(event.ByteSize() for event in history.events)


def _first_verified(history: WorkflowHistory) -> float | None:
    """Epoch seconds of the first completed change activity (apply + verify: a chunk's `apply_changes`, or one
    target's `change_resource` before chunks) in this history."""
    changes = {
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name
        in (Activity.apply_changes, Activity.change_resource)
    }
    for e in history.events:
        if (
            e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            and e.activity_task_completed_event_attributes.scheduled_event_id in changes
        ):
            return e.event_time.ToDatetime().timestamp()
    return None


def _activities(histories: list[WorkflowHistory]) -> int:
    return sum(1 for h in histories for e in h.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)


async def campaign_once(client: Client, server: DevServer, tenant_file: Path, targets: int, root: Path) -> Figures:
    token = secrets.token_urlsafe(24)
    os.environ[TOKEN_ENV] = token
    with github_sim(tenant_file, TOKEN_ENV) as (connection, sim):
        playbook = Playbook.model_validate(PLAYBOOK)
        context = WorkerContext(
            registry=TenantRegistry(tenants={connection.key: connection}),
            data_dir=root / f"worker-{uuid.uuid4().hex[:8]}",
            playbooks={playbook.id: playbook},
            settings=Settings(
                changes=ChangePolicy(default_concurrency=CONCURRENCY, default_writes_per_minute=100_000_000)
            ),
        )
        queue = f"bench-{uuid.uuid4()}"
        async with build_worker(client, context, task_queue=queue):
            scan_id = f"scan-{uuid.uuid4()}"
            scan_started = time.time()
            scan: ScanResult = await client.execute_workflow(
                "ScanWorkflow",
                ScanInput(tenant_key=connection.key),
                id=scan_id,
                task_queue=queue,
                result_type=ScanResult,
            )
            [campaign] = scan.campaigns_started
            pids = {"worker": None, "simulator": sim.pid, **({"server": server.pid} if server.pid else {})}
            cpu = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            status = await wait_idle(client, campaign)
            done = time.time()
            cpu = {name: (_cpu_seconds(pid) - cpu[name]) * 1000 / targets for name, pid in pids.items()}
        histories = await _histories(client, campaign)
        started = histories[0].events[0].event_time.ToDatetime().timestamp()
        first = _first_verified(histories[0]) or float("nan")
        sizes = [_size(h) for h in histories]
        scan_history = await client.get_workflow_handle(scan_id).fetch_history()
        context.close()
        return Figures(
            targets=targets,
            campaign_s=done - started,
            activities=_activities(histories),
            first_verified_s=first - scan_started,
            max_history=max([*sizes, _size(scan_history)]),
            bytes_per_target=sum(sizes) / targets,
            runs=len(histories),
            verified=status.totals.get("verified", 0),
            cpu_ms=cpu,
        )


async def bench_size(client: Client, server: DevServer, targets: int, root: Path) -> None:
    """Campaign runs alternating with bare Temporal on the same server. The baseline is one no-op activity per
    target (the unit of the work: one target's apply + verify; before chunks the campaign ran 1.01 activities per
    target); bare Temporal with only as many activities as the campaign now runs is printed beside it."""
    tenant_file = root / f"tenant-{targets}.json"
    _generate(targets, tenant_file)
    runs: list[Figures] = []
    ratios: list[float] = []
    same_count: list[float] = []
    sequential: list[float] = []
    _reset_peak()
    for _ in range(RUNS[targets]):
        figures = await campaign_once(client, server, tenant_file, targets, root)
        runs.append(figures)
        ratios.append(await bare_seconds(client, targets, CONCURRENCY) / figures.campaign_s)
        same_count.append(await bare_seconds(client, figures.activities, CONCURRENCY) / figures.campaign_s)
        if targets <= SEQUENTIAL_MAX:
            sequential.append(await bare_seconds(client, targets, 1) / figures.campaign_s)
    worker_mb = _vm_hwm_mb()
    server_mb = _vm_hwm_mb(server.pid) if server.pid else float("nan")
    last = runs[-1]
    one_at_a_time = f"{statistics.median(sequential):.2f}x" if sequential else f"not run (over {SEQUENTIAL_MAX:,})"
    print(
        f"campaign of {targets} targets ({len(runs)} run(s), concurrency {CONCURRENCY}): "
        f"campaign {statistics.median(r.campaign_s for r in runs):.1f}s, "
        f"{statistics.median(r.targets / r.campaign_s for r in runs):.0f} targets/s; "
        f"vs bare Temporal (one no-op activity per target) {statistics.median(ratios):.2f}x "
        f"(runs: {', '.join(f'{r:.2f}' for r in ratios)}), "
        f"one activity at a time {one_at_a_time}; "
        f"the campaign ran {last.activities} activities ({last.activities / targets:.2f} per target), bare Temporal "
        f"with that many {statistics.median(same_count):.2f}x; "
        f"first verified change {statistics.median(r.first_verified_s for r in runs):.1f}s after scan start (p50); "
        f"max history {last.max_history / 1e6:.2f} MB, {last.bytes_per_target:.0f} B/target over {last.runs} run(s); "
        f"verified {last.verified}/{targets}; peak RSS worker {worker_mb:.0f} MB, server {server_mb:.0f} MB; "
        f"CPU per target (median) "
        + ", ".join(f"{n} {statistics.median(r.cpu_ms[n] for r in runs):.1f} ms" for n in runs[0].cpu_ms)
    )
    if targets == 200:
        today = statistics.median(BASELINE_TODAY)
        print(
            f"  at 200 targets: {statistics.median(ratios) / today:.1f}x the issue's 0.51-0.58x, whose baseline ran as "
            "many no-op activities as the campaign then did (~5 per target); this one runs 1 per target"
        )


async def main_async(sizes: tuple[int, ...]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with DevServer(data_dir=root, port=free_port(), headless=True) as server:
            client = await connect(TemporalSettings(address=server.address))
            for targets in sizes:
                await bench_size(client, server, targets, root)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--huge", action="store_true", help=f"also {HUGE:,} targets (several minutes)")
    parser.add_argument("--only", type=int, action="append", help="only these sizes")
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    sizes = tuple(args.only) if args.only else (*SIZES, *((HUGE,) if args.huge else ()))
    asyncio.run(main_async(sizes))


if __name__ == "__main__":
    main()
