"""Where the time of N targeted rescans at once goes, before any campaign runs (issue 11; prints, asserts nothing).

The rescan half of bench/rescan_throughput.py: the same generated org (N repositories, default 1,000, secret
scanning off, served by the simulator in its own process with limits lifted) and the same N requests, one per
repository, `SENDERS` in flight at once through the API's `RescanRequests`. The worker serves only the scan role, so
the campaign the rescan starts waits on the remediation queue and costs nothing here. Timed: the first request sent
→ all requests served and all N findings recorded in the ledger, split with the rescan workflow's history into:
requests sent (client clock), then from the workflow's events the wait before the first read, collect_targets,
evaluate_rules, reconcile_findings (findings recorded) and starting the campaign. Also per run: rescans, workflow
tasks, history events and bytes, vendor requests; and CPU milliseconds per finding of this process (client and
worker), the simulator and the Temporal server (campaigns._cpu_seconds), for sending and for the rest. Median of
`--runs`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from campaigns import _cpu_seconds, _histories, _size
from harness import github_sim
from rescan_throughput import RULE, SENDERS, TOKEN_ENV, _all_served, _tenant
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

from mendflow.config import TenantConnection, TenantRegistry
from mendflow.findings.store import FindingStatus
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.playbooks.model import Playbook
from mendflow.routing import Role
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.ports import free_port
from mendflow.runtime.rescans import RescanRequests, rescan_status, rescan_workflow_id
from mendflow.runtime.worker import build_worker
from mendflow.telemetry import configure_logging
from mendflow.webhooks import WebhookSettings
from mendflow.worker_context import WorkerContext

PHASES = ("sent", "to first read", "collect_targets", "evaluate_rules", "reconcile_findings", "campaign started")
CPU_OF = ("worker", "simulator", "server")


@dataclass
class Run:
    """One run's figures: seconds from the first request, per phase and in all; CPU ms per finding."""

    total_s: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    cpu_send: dict[str, float] = field(default_factory=dict)
    cpu_rest: dict[str, float] = field(default_factory=dict)
    rescans: int = 0
    workflow_tasks: int = 0
    events: int = 0
    history_bytes: int = 0
    vendor_requests: int = 0
    recorded: int = 0


def _seconds(event: HistoryEvent) -> float:
    return event.event_time.ToDatetime().timestamp()


def _phases(histories: list[WorkflowHistory], first: float, sent: float) -> dict[str, float]:
    """Seconds per phase: activities summed over every rescan (scheduled → completed), the rest between them."""
    spent: dict[str, float] = defaultdict(float)
    scheduled: dict[int, tuple[str, float]] = {}
    first_read = last_recorded = started = None
    for history in histories:
        for e in history.events:
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                name = e.activity_task_scheduled_event_attributes.activity_type.name
                scheduled[e.event_id] = (name, _seconds(e))
                if first_read is None:
                    first_read = _seconds(e)
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                name, at = scheduled[e.activity_task_completed_event_attributes.scheduled_event_id]
                spent[name] += _seconds(e) - at
                if name == "reconcile_findings":
                    last_recorded = _seconds(e)
            elif e.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED and last_recorded:
                started = _seconds(e)
    return {
        "sent": sent - first,
        "to first read": (first_read or first) - first,
        "collect_targets": spent["collect_targets"],
        "evaluate_rules": spent["evaluate_rules"],
        "reconcile_findings": spent["reconcile_findings"],
        "campaign started": (started - last_recorded) if started and last_recorded else float("nan"),
    }


def _count(histories: list[WorkflowHistory], kind: EventType.ValueType) -> int:
    return sum(1 for h in histories for e in h.events if e.event_type == kind)


async def rescan_once(
    client: Client, pids: dict[str, int | None], connection: TenantConnection, targets: list[str], *,
    playbooks: dict[str, Playbook], root: Path, debounce: timedelta,
) -> Run:  # fmt: skip
    """N requests at once for a fresh tenant key (a fresh RescanWorkflow and ledger), to the last finding recorded."""
    key = f"github:acme-{uuid.uuid4().hex[:6]}"
    context = WorkerContext(
        registry=TenantRegistry(tenants={key: connection.model_copy(update={"key": key})}),
        data_dir=root / f"data-{key.rsplit('-', 1)[1]}", playbooks=playbooks,
    )  # fmt: skip
    queue = f"phases-{uuid.uuid4().hex[:6]}"
    gate = asyncio.Semaphore(SENDERS)
    requests = RescanRequests(client, task_queue=queue, debounce=debounce)  # as the webhook endpoints send them

    async def arrive(target: str) -> None:
        async with gate:
            await requests.request(key, [target], source="bench")

    run = Run()
    try:
        async with build_worker(client, context, task_queue=queue, roles=[Role.scan]):
            cpu = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            first = time.time()
            await asyncio.gather(*(arrive(t) for t in targets))
            sent = time.time()
            middle = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            await _all_served(client, key, len(targets))
            run.total_s = time.time() - first
            end = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            status = await rescan_status(client, key)
        histories = await _histories(client, rescan_workflow_id(key))
        run.recorded = sum(1 for r in context.ledger.rows(key) if r.status is not FindingStatus.resolved)
    finally:
        context.close()
    per = 1000 / len(targets)
    run.cpu_send = {n: (middle[n] - cpu[n]) * per for n in pids}
    run.cpu_rest = {n: (end[n] - middle[n]) * per for n in pids}
    run.phases = _phases(histories, first, sent)
    run.rescans = len(status.batches)
    run.vendor_requests = sum(b.requests for b in status.batches)
    run.workflow_tasks = _count(histories, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    run.events = sum(len(h.events) for h in histories)
    run.history_bytes = sum(_size(h) for h in histories)
    return run


async def measure(findings: int, runs: int, debounce_ms: int) -> list[Run]:
    playbooks = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks if p.id == RULE}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        targets = _tenant(findings, root / "tenant.json")
        os.environ[TOKEN_ENV] = secrets.token_urlsafe(24)
        with (
            github_sim(root / "tenant.json", TOKEN_ENV) as (connection, sim),
            DevServer(data_dir=root / "temporal", port=free_port(), headless=True) as server,
        ):
            client = await connect(TemporalSettings(address=server.address))
            pids = {"worker": None, "simulator": sim.pid, **({"server": server.pid} if server.pid else {})}
            debounce = timedelta(milliseconds=debounce_ms)
            out = []
            for _ in range(runs):
                out.append(
                    await rescan_once(
                        client, pids, connection, targets, playbooks=playbooks, root=root, debounce=debounce
                    )
                )
            return out


def report(findings: int, debounce_ms: int, runs: list[Run]) -> str:
    load = os.getloadavg()
    phases = ", ".join(f"{p} {statistics.median([r.phases[p] for r in runs]):.2f}" for p in PHASES)
    cpu_send = " / ".join(f"{statistics.median([r.cpu_send.get(n, 0.0) for r in runs]):.2f}" for n in CPU_OF)
    cpu_rest = " / ".join(f"{statistics.median([r.cpu_rest.get(n, 0.0) for r in runs]):.2f}" for n in CPU_OF)
    return (
        f"{findings:,} rescan requests at once, to every finding recorded (debounce {debounce_ms} ms, {len(runs)} "
        f"runs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}): median "
        f"{statistics.median([r.total_s for r in runs]):.2f} s (runs {', '.join(f'{r.total_s:.2f}' for r in runs)}), "
        f"{findings / statistics.median([r.total_s for r in runs]):.0f} findings/s; phases (s) {phases}; "
        f"{runs[0].rescans} rescan(s), {runs[0].vendor_requests:,} vendor requests, {runs[0].workflow_tasks} "
        f"workflow tasks, {runs[0].events:,} history events, {runs[0].history_bytes / 1000:.0f} kB of history; "
        f"{min(r.recorded for r in runs):,} findings recorded (fewest of the runs); CPU ms per finding "
        f"worker / simulator / server: sending {cpu_send}, rescanning {cpu_rest}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--findings", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--debounce-ms", type=int, default=WebhookSettings().debounce_ms)
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    runs = asyncio.run(measure(args.findings, args.runs, args.debounce_ms))
    print(report(args.findings, args.debounce_ms, runs))


if __name__ == "__main__":
    main()
