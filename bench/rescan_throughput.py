"""Findings remediated per second when 1,000 arrive at once, as a ratio of bare Temporal (prints, asserts nothing).

The other half of bench/latency.py (issue 10). A generated GitHub org whose N repositories (default 1,000) all
have secret scanning turned off is served by the simulator in its own process (limits lifted: this measures
mendflow, not the vendor's window). N rescan requests, one per repository, arrive at once at the tenant's
RescanWorkflow (as N webhook deliveries would, through the API's `RescanRequests`; `--debounce-ms`, default the
webhooks default); the rescans read those repositories, record the N findings and start the auto campaign of the
shipped playbook (no bake), which turns scanning back on, verifying each. Timed: the first request sent → every
campaign idle with N verified.

In the same run, bare Temporal runs one no-op activity per finding (the unit of the work, as in campaigns.py:
campaigns now apply a chunk of targets per activity, so mendflow's own activity count would make a ceiling of
almost nothing), with the campaign's concurrency, on the same server: campaigns.py's `bare_seconds` (one helper,
not a copy); bare Temporal with as many activities as mendflow ran is printed beside it. Printed: findings
remediated per second and mendflow's throughput as a ratio of that ceiling (target ≥ 0.7), then the
20,000-user Okta scan at the simulator's default rate limits through okta_rate_limits.py (`--okta-users 0`: skip).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from campaigns import CONCURRENCY, _activities, _histories, bare_seconds
from harness import github_sim
from okta_rate_limits import USERS, rule_driven_scan
from temporalio.client import Client

from mendflow.campaigns.windows import ChangePolicy
from mendflow.config import TenantRegistry
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.ports import free_port
from mendflow.runtime.rescans import RescanRequests, rescan_status, rescan_workflow_id
from mendflow.runtime.scans import wait_idle
from mendflow.runtime.worker import build_worker
from mendflow.settings import Settings
from mendflow.sim.generate import github_tenant
from mendflow.telemetry import configure_logging
from mendflow.webhooks import WebhookSettings
from mendflow.worker_context import WorkerContext

RULE = "github.repo.secret_scanning_disabled"
TOKEN_ENV = "MENDFLOW_BENCH_THROUGHPUT_TOKEN"
SENDERS = 50
"""Requests in flight at once while the N arrive (an API's worth of concurrent deliveries)."""


def _tenant(findings: int, path: Path) -> list[str]:
    """Write an org of `findings` repositories, all unarchived with secret scanning off; their canonical paths."""
    document = github_tenant(repos=findings, members=5)
    for repo in document["github"]["repos"]:
        repo["archived"] = False
        repo.setdefault("security_and_analysis", {})["secret_scanning"] = {"status": "disabled"}
    path.write_text(json.dumps(document), encoding="utf-8")
    return [f"/repos/{r['full_name']}" for r in document["github"]["repos"]]


async def _all_served(client: Client, key: str, requests: int, within: float = 600.0) -> list[str]:
    """Poll the rescan workflow until rescans have served all `requests`; the campaigns they started."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = await rescan_status(client, key)
        if sum(b.requests_coalesced for b in status.batches) >= requests:
            errors = [b.error for b in status.batches if b.error]
            if errors:
                raise RuntimeError(f"a rescan failed: {errors[0]}")
            return [c for b in status.batches for c in b.campaigns_started]
        await asyncio.sleep(0.05)
    raise TimeoutError("the rescans did not finish within 600 s")


async def measure(findings: int, debounce_ms: int) -> None:
    playbooks = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks if p.id == RULE}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        targets = _tenant(findings, root / "tenant.json")
        token = secrets.token_urlsafe(24)
        os.environ[TOKEN_ENV] = token
        with github_sim(root / "tenant.json", TOKEN_ENV, key=f"github:acme-{uuid.uuid4().hex[:6]}") as (
            connection,
            _sim,
        ):
            settings = Settings(
                changes=ChangePolicy(default_concurrency=CONCURRENCY, default_writes_per_minute=100_000_000)
            )
            with DevServer(data_dir=root / "temporal", port=free_port(), headless=True) as server:
                client = await connect(TemporalSettings(address=server.address))
                context = WorkerContext(
                    registry=TenantRegistry(tenants={connection.key: connection}),
                    data_dir=root / "data", playbooks=playbooks, settings=settings,
                )  # fmt: skip
                queue = f"throughput-{uuid.uuid4().hex[:6]}"
                debounce = timedelta(milliseconds=debounce_ms)
                gate = asyncio.Semaphore(SENDERS)
                requests = RescanRequests(client, task_queue=queue, debounce=debounce)  # as the webhook endpoints

                async def arrive(target: str) -> None:
                    async with gate:
                        await requests.request(connection.key, [target], source="bench")

                try:
                    async with build_worker(client, context, task_queue=queue):
                        started = time.perf_counter()
                        await asyncio.gather(*(arrive(t) for t in targets))
                        arrived = time.perf_counter()
                        campaigns = await _all_served(client, connection.key, len(targets))
                        recorded = time.perf_counter()
                        verified = 0
                        for campaign in campaigns:
                            verified += (await wait_idle(client, campaign)).totals.get("verified", 0)
                        seconds = time.perf_counter() - started
                        status = await rescan_status(client, connection.key)
                    histories = await _histories(client, rescan_workflow_id(connection.key))
                    for campaign in campaigns:
                        histories += await _histories(client, campaign)
                    activities = _activities(histories)
                    ceiling = await bare_seconds(client, findings, CONCURRENCY)
                    same_count = await bare_seconds(client, activities, CONCURRENCY)
                finally:
                    context.close()
    load = os.getloadavg()
    print(
        f"{findings:,} findings at once through the rescan path (debounce {debounce_ms} ms; load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}): {len(status.batches)} rescans "
        f"({max(b.target_count for b in status.batches)} targets in the largest), {len(campaigns)} campaign(s), "
        f"{verified:,}/{findings:,} verified in {seconds:.1f} s (requests sent in {arrived - started:.1f} s, "
        f"rescans done, findings recorded and campaigns started in {recorded - started:.1f} s) = "
        f"{verified / seconds:.1f} findings remediated/s; bare Temporal, one no-op activity per finding "
        f"(campaigns.bare_seconds, concurrency {CONCURRENCY}) {ceiling:.1f} s = {findings / ceiling:.0f} "
        f"activities/s; mendflow / ceiling = {ceiling / seconds:.2f}x (target 0.7x); mendflow ran {activities:,} "
        f"activities, bare Temporal with that many {same_count / seconds:.2f}x"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--findings", type=int, default=1_000)
    parser.add_argument("--debounce-ms", type=int, default=WebhookSettings().debounce_ms)
    parser.add_argument("--okta-users", type=int, default=USERS, help="0: skip the Okta full-scan figure")
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    asyncio.run(measure(args.findings, args.debounce_ms))
    if args.okta_users:
        report = rule_driven_scan(args.okta_users)
        load = os.getloadavg()
        print(
            f"okta full scan of {args.okta_users:,} users at the simulator's default rate limits (every shipped "
            f"playbook, okta_rate_limits.rule_driven_scan; load average {load[0]:.1f}): "
            + (f"FAILED: {report['error']}" if report.get("failed") else
               f"{report['wall_s']:.1f} s, {report['requests']:,} requests, {report['waited_s']:.1f} s waiting")
        )  # fmt: skip


if __name__ == "__main__":
    main()
