"""Figures for the capacity model in docs/scaling.md (`python bench/capacity.py`): prints figures, asserts nothing.

One scan of a generated GitHub org through the deployment shape: the Temporal dev server (tuned, as
`mendflow up` runs it), a `mendflow worker` process configured by MENDFLOW_* variables whose shared state is a
real PostgreSQL server (Debian's package, started here in a temporary directory), the GitHub simulator on
loopback. Playbooks are switched to `notify`, so the scan's
own cost is measured (campaigns are measured by bench/campaigns.py). The same scan runs twice: the first fills
an empty database, the second is the steady state (same inventory, every finding still open).

Printed per scan: wall time and the worker's CPU time; ScanWorkflow history (events, bytes); rows and bytes
written to PostgreSQL (WAL bytes, commits, tuples) and the database size. Then: the worker process's RSS idle and
at its peak, an idle `mendflow api` process's, and the Temporal server's peak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests.store.postgres: the suite's throw-away server

from mendflow.config import TenantConnection
from mendflow.playbooks.loader import bundled_playbook_dir
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import TUNING, DevServer
from mendflow.runtime.loopback import serve_in_thread
from mendflow.runtime.ports import free_port
from mendflow.runtime.scans import run_scan_and_wait
from mendflow.secrets import SecretRef
from mendflow.sim.generate import github_tenant
from mendflow.sim.github import create_github_app
from mendflow.telemetry import configure_logging
from mendflow.tenant import load_tenant_file
from tests.store.postgres import PostgresServer

MENDFLOW = str(Path(sys.executable).parent / "mendflow")
TOKEN_ENV = "MENDFLOW_BENCH_SIM_TOKEN"
UNLIMITED = 10**9
STATS_FLUSH_S = 12
"""PostgreSQL publishes a busy backend's counters about every 10 s; wait that long before reading them."""


def _notify_only_copies(folder: Path) -> Path:
    """The shipped playbooks without their `respond` blocks (notify only), as files a worker process can load."""
    for source in bundled_playbook_dir().rglob("*.yaml"):
        if source.name.endswith(".tests.yaml"):  # test cases expect plans, which notify-only playbooks have none of
            continue
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
        document.pop("respond", None)
        target = folder / source.relative_to(bundled_playbook_dir())
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return folder


@contextmanager
def _simulated_github(tenant_file: Path) -> Iterator[TenantConnection]:
    """The GitHub simulator in a thread, without its realistic 5,000/h limit: this measures mendflow's own cost
    (the vendor's limits are arithmetic, in docs/scaling.md; bench/scan.py measures scans under tight limits)."""
    token = secrets.token_urlsafe(24)
    os.environ[TOKEN_ENV] = token  # the worker process inherits it and reads it by reference
    tenant = load_tenant_file(tenant_file)
    with serve_in_thread(create_github_app(tenant, token=token, rate_limit=UNLIMITED)) as server:
        yield TenantConnection(
            key=f"github:{tenant.tenant}",
            provider="github",
            tenant=tenant.tenant,
            base_url=server.base_url,
            token=SecretRef(ref=f"env:{TOKEN_ENV}"),
        )


def _rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _start(command: str, env: dict[str, str], ready: str) -> asyncio.subprocess.Process:
    """Start `mendflow COMMAND` configured by `env`; return once it printed `ready`."""
    process = await asyncio.create_subprocess_exec(
        MENDFLOW, command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert process.stdout is not None
    async with asyncio.timeout(120):
        while ready not in (await process.stdout.readline()).decode():
            if process.returncode is not None:
                raise RuntimeError(f"mendflow {command} exited with {process.returncode}")
    return process


async def _stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(60):
        await process.wait()


def _pg_counters(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, pg_current_wal_lsn() - '0/0'::pg_lsn, "
            "pg_database_size(current_database()) FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    keys = ("commits", "inserted", "updated", "deleted", "wal_bytes", "db_bytes")
    return dict(zip(keys, (int(v) for v in row), strict=True))


def _pg_tables(dsn: str) -> dict[str, tuple[int, int]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")
        rows = conn.execute(
            "SELECT relname, n_live_tup, pg_total_relation_size(relid) FROM pg_stat_user_tables ORDER BY 3 DESC"
        ).fetchall()
    return {name: (int(live), int(size)) for name, live, size in rows}


async def _history(client: Any, workflow_id: str) -> tuple[int, int]:
    events = 0
    size = 0
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        events += 1
        size += event.ByteSize()
    return events, size


async def measure(repos: int, members: int) -> dict[str, Any]:
    report: dict[str, Any] = {"repos": repos, "members": members, "scans": []}
    postgres = PostgresServer()
    postgres.start()
    try:
        dsn = postgres.create_database()
        libpq = dsn.replace("postgresql+psycopg://", "postgresql://")
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            tenant_file = root / "github.json"
            tenant_file.write_text(json.dumps(github_tenant(repos=repos, members=members)), encoding="utf-8")
            with (
                DevServer(data_dir=root / "temporal", port=free_port(), headless=True, tuning=TUNING) as server,
                _simulated_github(tenant_file) as connection,
            ):
                client = await connect(TemporalSettings(address=server.address))
                tenants = root / "tenants.yaml"
                tenants.write_text(
                    yaml.safe_dump({"tenants": [connection.model_dump(mode="json", exclude_none=True)]}),
                    encoding="utf-8",
                )
                common = {
                    **os.environ,
                    "MENDFLOW_TEMPORAL_ADDRESS": server.address,
                    "MENDFLOW_DATABASE_URL": dsn,
                }
                worker = await _start(
                    "worker",
                    {
                        **common,
                        "MENDFLOW_TENANTS": str(tenants),
                        "MENDFLOW_DATA_DIR": str(root / "worker"),
                        "MENDFLOW_PLAYBOOKS": str(_notify_only_copies(root / "playbooks")),
                    },
                    "worker connected to",
                )
                await asyncio.sleep(2)
                report["worker_idle_rss_mb"] = round(_rss_mb(worker.pid, "VmRSS"), 1)
                try:
                    for label in ("first (empty database)", "second (steady state)"):
                        before = _pg_counters(libpq)
                        cpu_before = _cpu_seconds(worker.pid)
                        started = time.perf_counter()
                        result, _ = await run_scan_and_wait(client, connection.key)
                        wall = time.perf_counter() - started
                        cpu = _cpu_seconds(worker.pid) - cpu_before
                        await asyncio.sleep(STATS_FLUSH_S)
                        after = _pg_counters(libpq)
                        scan_ids = [e.id async for e in client.list_workflows("WorkflowType = 'ScanWorkflow'")]
                        events, size = await _history(client, scan_ids[0])
                        report["scans"].append(
                            {
                                "label": label,
                                "wall_s": round(wall, 2),
                                "worker_cpu_s": round(cpu, 2),
                                "resources": result.resources,
                                "findings": result.findings,
                                "history_events": events,
                                "history_bytes": size,
                                **{k: after[k] - before[k] for k in ("commits", "inserted", "updated", "deleted")},
                                "wal_bytes": after["wal_bytes"] - before["wal_bytes"],
                                "db_bytes": after["db_bytes"],
                            }
                        )
                    report["worker_peak_rss_mb"] = round(_rss_mb(worker.pid, "VmHWM"), 1)
                finally:
                    await _stop(worker)
                api = await _start(
                    "api",
                    {**common, "MENDFLOW_API_PORT": str(free_port()), "MENDFLOW_DATA_DIR": str(root / "api")},
                    "mendflow API at",
                )
                await asyncio.sleep(2)
                report["api_idle_rss_mb"] = round(_rss_mb(api.pid, "VmRSS"), 1)
                await _stop(api)
                report["tables"] = _pg_tables(libpq)
                assert server._process is not None
                report["server_peak_rss_mb"] = round(_rss_mb(server._process.pid, "VmHWM"), 1)
    finally:
        postgres.stop()
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=300)
    parser.add_argument("--members", type=int, default=1_500)
    parser.add_argument("--json", action="store_true", help="also print the whole report as one JSON line")
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    report = asyncio.run(measure(args.repos, args.members))
    print(f"capacity: GitHub org with {report['repos']} repos, {report['members']} members; PostgreSQL store")
    for scan in report["scans"]:
        print(
            f"  scan {scan['label']}: {scan['resources']:,} resources, {scan['findings']:,} findings in "
            f"{scan['wall_s']:.1f}s (worker CPU {scan['worker_cpu_s']:.1f}s); "
            f"ScanWorkflow history {scan['history_events']} events, "
            f"{scan['history_bytes'] / 1024:.0f} KiB; PostgreSQL: {scan['commits']:,} commits, "
            f"{scan['inserted']:,} rows inserted, {scan['updated']:,} updated, {scan['deleted']:,} deleted, "
            f"{scan['wal_bytes'] / 2**20:.1f} MiB WAL; database {scan['db_bytes'] / 2**20:.1f} MiB"
        )
    for name, (rows, size) in report["tables"].items():
        print(f"    table {name}: {rows:,} rows, {size / 2**20:.2f} MiB")
    print(
        f"  RSS: worker idle {report['worker_idle_rss_mb']:.0f} MB, peak while scanning "
        f"{report['worker_peak_rss_mb']:.0f} MB; API idle {report['api_idle_rss_mb']:.0f} MB; "
        f"Temporal dev server peak {report['server_peak_rss_mb']:.0f} MB"
    )
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
