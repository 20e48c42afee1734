"""mendflow benchmarks (`make bench`): prints figures, asserts nothing.

1. rule evaluation: the shipped GitHub rule pack over vendor-shaped resources (evaluations/s);
2. offline scan of the demo tenant (collect through the connector + evaluate), wall time;
3. scan + auto-fix loop on the embedded dev server, tuned (SQLite WAL, fast transfer polling) vs the
   dev server's defaults, measured in one run, with their ratio;
4. (bench/approvals.py) an approval round trip through the API (token, signature, validator, audit) vs a raw
   Temporal update, p50/p99, in one run.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from mendflow.config import TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.demo import simulated_github
from mendflow.offline import scan_tenant_file
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.rules import compile_rules
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import TUNING, DevServer
from mendflow.runtime.ports import free_port
from mendflow.runtime.scans import run_scan_and_wait
from mendflow.runtime.worker import build_worker
from mendflow.telemetry import configure_logging
from mendflow.worker_context import WorkerContext

LOOPS = 5


def bench_rules() -> None:
    playbooks = load_playbooks([bundled_playbook_dir()]).playbooks
    scan = scan_tenant_file(demo_tenant_path(), playbooks)
    resources = scan.resources * 200
    rules = compile_rules(playbooks)
    started = time.perf_counter()
    result = rules.evaluate(resources, tenant="acme", provider="github", as_of=datetime.now(UTC))
    seconds = time.perf_counter() - started
    per_type = {p.resource for p in playbooks}
    evaluations = sum(sum(1 for p in playbooks if p.resource == r.type) for r in resources if r.type in per_type)
    print(
        f"rules: {len(playbooks)} playbooks over {len(resources)} resources: {evaluations} evaluations "
        f"in {seconds:.2f}s = {evaluations / seconds:,.0f} evaluations/s ({len(result.findings)} findings)"
    )


def bench_offline_scan() -> None:
    playbooks = load_playbooks([bundled_playbook_dir()]).playbooks
    times = []
    for _ in range(LOOPS):
        started = time.perf_counter()
        scan_tenant_file(demo_tenant_path(), playbooks)
        times.append(time.perf_counter() - started)
    median_ms = statistics.median(times) * 1000
    print(f"offline scan of the demo tenant (23 resources, simulator start included): median {median_ms:.0f} ms")


async def loop_seconds(*, tuned: bool) -> list[float]:
    """Wall time of scan + campaigns, each loop against a freshly seeded simulator and a fresh worker."""
    playbooks = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks}
    out = []
    tuning = TUNING if tuned else ()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with DevServer(data_dir=root, port=free_port(), headless=True, tuning=tuning) as server:
            client = await connect(TemporalSettings(address=server.address))
            for i in range(LOOPS):
                queue = f"bench-{i}"
                with simulated_github(demo_tenant_path()) as (_, connection):
                    registry = TenantRegistry(tenants={connection.key: connection})
                    context = WorkerContext(registry=registry, data_dir=root / f"run{i}", playbooks=playbooks)
                    async with build_worker(client, context, task_queue=queue):
                        started = time.perf_counter()
                        await run_scan_and_wait(client, connection.key, task_queue=queue)
                        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    configure_logging(level="ERROR")
    print(f"python {sys.version.split()[0]}; {LOOPS} loops each")
    bench_rules()
    bench_offline_scan()
    tuned = asyncio.run(loop_seconds(tuned=True))
    default = asyncio.run(loop_seconds(tuned=False))
    t, d = statistics.median(tuned), statistics.median(default)
    print(
        f"scan + auto-fix of the demo org (scan, then campaigns until idle) on the dev server: "
        f"tuned median {t * 1000:.0f} ms, defaults median {d * 1000:.0f} ms, defaults/tuned = {d / t:.2f}x"
    )
    import rules  # bench/rules.py (run.py's folder is on sys.path): the rule engine against hand-written Python

    rules.main()
    __import__("scan").main()  # bench/scan.py: GitHub and Okta scans at scale, clean and under faults
    __import__("okta_rate_limits").main()  # bench/okta_rate_limits.py: 20,000-user Okta scan at default limits
    __import__("big_tenant").main()  # bench/big_tenant.py: offline scan of a 17,000-repository tenant file
    __import__("approvals").main()  # bench/approvals.py: approval round trip through the API vs a raw update
    __import__("capacity").main([])  # bench/capacity.py: one scan's cost in CPU, history, PostgreSQL and memory
    __import__("campaigns").main([])  # bench/campaigns.py: auto-fix campaigns at 200 and 1,000 targets (--huge: 10,000)
    __import__("scan_memory").main([])  # bench/scan_memory.py: the worker's memory per phase of a 20,000-repo scan
    __import__("evidence").main([])  # bench/evidence.py: M9, evidence export of 10,000 audit events (--postgres too)
    __import__("codec").main([])  # bench/codec.py: payload encryption's cost (codec MB/s; demo and 200-target ratios)
    __import__("latency").main([])  # bench/latency.py: webhook → finding (TTD) → verified fix (TTR), p50/p95/p99
    __import__("rescan_throughput").main([])  # bench/rescan_throughput.py: 1,000 findings at once vs bare Temporal
    __import__("rescan_phases").main([])  # bench/rescan_phases.py: those 1,000 rescans alone, per phase and CPU
    __import__("validate").main(["--companions"])  # bench/validate.py: validating the shipped playbooks (issue 14)
    __import__("telemetry").main([])  # bench/telemetry.py: traces + metrics per vendor request and on a campaign
    __import__("workflows").main([])  # bench/workflows.py: response workflows vs bare Temporal, runs/s and per step
    __import__("vendor_client").main([])  # bench/vendor_client.py: the vendor HTTP client's CPU per request
    __import__("chunk_db").main([])  # bench/chunk_db.py: database cost of a campaign chunk of 16 (limits + record)


if __name__ == "__main__":
    main()
