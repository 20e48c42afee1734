"""Time to detect and time to remediate through webhooks, on the tuned embedded dev server (prints, asserts nothing).

A person turns secret scanning off on a repository of the simulated GitHub org through its API; the simulator
delivers GitHub's signed `repository` and `security_and_analysis` webhooks to the API, which signals the tenant's
RescanWorkflow (debounce as configured), which re-reads that one repository, records the finding and starts its
auto campaign, which turns scanning back on (and that write's webhook makes the next rescan resolve the finding).

- time to detect (TTD): the change answered → the finding is in the ledger;
- time to remediate (TTR): the change answered → the finding resolved (fixed by mendflow).

Changes run one after another over the org's repositories with scanning on, each back on before the next (a
repository changed again regresses its finding, a new campaign). No full scan runs. `--changes N` (default 50);
`--debounce-ms` more than once, with `--rounds R`, alternates the debounces R times and prints their medians
(time to detect against rescans per change; bench/rescan_throughput.py is the throughput half).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx

from mendflow.api.app import create_api_app
from mendflow.api.webhooks import WebhookReceiver
from mendflow.audit import AuditLog
from mendflow.config import TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.demo import DEMO_TOKEN_ENV, simulated_github, with_webhooks
from mendflow.findings.store import FindingsLedger, FindingStatus, LedgerRow
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.loopback import serve_async
from mendflow.runtime.ports import free_port
from mendflow.runtime.rescans import request_rescan, rescan_status
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.store import StoredReplayCache
from mendflow.telemetry import configure_logging
from mendflow.worker_context import WorkerContext

RULE = "github.repo.secret_scanning_disabled"
REPOS = ("/repos/acme/api", "/repos/acme/docs")
"""The demo org's repositories with secret scanning on."""


def _row(ledger: FindingsLedger, tenant: str, repo: str) -> LedgerRow | None:
    return next((r for r in ledger.rows(tenant) if r.finding.rule == RULE and r.finding.resource.id == repo), None)


async def _until(check: object, within: float = 60.0) -> float:
    started = time.perf_counter()
    while not check():  # type: ignore[operator]
        if time.perf_counter() - started > within:
            raise TimeoutError("no change within 60 s")
        await asyncio.sleep(0.005)
    return time.perf_counter()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(changes: int, debounce_ms: int | None = None) -> tuple[float, float, float]:
    """Print one run's figures; (TTD p50, TTD p95, rescans per change)."""
    playbooks = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        api_port = free_port()
        settings, hook = with_webhooks(Settings(), "github:acme", f"http://127.0.0.1:{api_port}")
        assert settings.webhooks is not None
        debounce = timedelta(milliseconds=settings.webhooks.debounce_ms if debounce_ms is None else debounce_ms)
        with (
            DevServer(data_dir=root / "temporal", port=free_port(), headless=True) as server,
            simulated_github(demo_tenant_path(), webhook=hook) as (sim, connection),
        ):
            client = await connect(TemporalSettings(address=server.address))
            registry = TenantRegistry(tenants={connection.key: connection})
            context = WorkerContext(registry=registry, data_dir=root / "data", playbooks=playbooks, settings=settings)
            queue = f"latency-{uuid.uuid4().hex[:6]}"

            async def rescan(tenant: str, targets: list[str], source: str) -> None:
                await request_rescan(client, tenant, targets, source=source, task_queue=queue, debounce=debounce)

            receiver = WebhookReceiver(
                settings.webhooks, audit=AuditLog(context.database), deliveries=StoredReplayCache(context.database),
                rescan=rescan,
            )  # fmt: skip
            api = asyncio.create_task(serve_async(create_api_app(audit=context.audit, webhooks=receiver),
                                                  host="127.0.0.1", port=api_port))  # fmt: skip
            token = os.environ[DEMO_TOKEN_ENV]
            ttd: list[float] = []
            ttr: list[float] = []
            try:
                async with (
                    build_worker(client, context, task_queue=queue),
                    httpx.AsyncClient(
                        base_url=sim.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
                    ) as person,
                ):
                    await asyncio.sleep(0.5)  # the API listens
                    for n in range(changes + 1):  # the first warms up (connections, workflow start): not counted
                        repo = REPOS[n % len(REPOS)]
                        before = _row(context.ledger, connection.key, repo)
                        opened_before = before.opened_at if before else None
                        started = time.perf_counter()
                        answer = await person.patch(
                            repo, json={"security_and_analysis": {"secret_scanning": {"status": "disabled"}}}
                        )
                        answer.raise_for_status()

                        def detected(repo: str = repo, was: object = opened_before) -> bool:
                            row = _row(context.ledger, connection.key, repo)
                            return row is not None and row.opened_at != was

                        seen = await _until(detected)

                        def resolved(repo: str = repo) -> bool:
                            row = _row(context.ledger, connection.key, repo)
                            return row is not None and row.status is FindingStatus.resolved

                        fixed = await _until(resolved)
                        if n:
                            ttd.append(seen - started)
                            ttr.append(fixed - started)
                    status = await rescan_status(client, connection.key)
            finally:
                api.cancel()
                await asyncio.gather(api, return_exceptions=True)
                context.close()
    rescans = len(status.batches)
    requests = [b.requests for b in status.batches]
    load = os.getloadavg()
    print(
        f"webhook latency on the tuned dev server, {changes} changes by hand "
        f"(debounce {debounce.total_seconds() * 1000:.0f} ms; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}): "
        f"TTD p50 {statistics.median(ttd) * 1000:.0f} ms, p95 {_pct(ttd, 0.95) * 1000:.0f} ms, "
        f"p99 {_pct(ttd, 0.99) * 1000:.0f} ms; TTR (auto fix verified, finding resolved) "
        f"p50 {statistics.median(ttr) * 1000:.0f} ms, p95 {_pct(ttr, 0.95) * 1000:.0f} ms; "
        f"{rescans} rescans in the last run = {rescans / (changes + 1):.2f} per change (its fix's included), "
        f"vendor requests per rescan max {max(requests, default=0)}"
    )
    return statistics.median(ttd), _pct(ttd, 0.95), rescans / (changes + 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument(
        "--debounce-ms", type=int, action="append",
        help="default: the webhooks section's default; several: each in turn, --rounds times, then medians",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=1, help="alternate the debounces this many times")
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    debounces: list[int | None] = list(args.debounce_ms or [None])
    runs: dict[int | None, list[tuple[float, float, float]]] = {d: [] for d in debounces}
    for _ in range(args.rounds):
        for debounce_ms in debounces:  # alternated: the machine's load drifts between runs
            runs[debounce_ms].append(asyncio.run(measure(args.changes, debounce_ms)))
    if len(debounces) > 1 or args.rounds > 1:
        for debounce_ms, figures in runs.items():
            p50, p95, per_change = (statistics.median(f[i] for f in figures) for i in range(3))
            label = "default" if debounce_ms is None else f"{debounce_ms} ms"
            print(
                f"  debounce {label}, medians of {len(figures)} run(s): TTD p50 {p50 * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms, {per_change:.2f} rescans per change"
            )


if __name__ == "__main__":
    main()
