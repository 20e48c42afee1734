"""Payload encryption's cost (`make bench`, or `python bench/codec.py`). Prints figures, asserts nothing.

1. The AES-256-GCM codec alone: encode + decode throughput (MB/s of clear payload) at 1 KiB, 64 KiB and 1 MiB;
2. on a 200-target campaign plan: the codec's time next to the pydantic converter's own, per conversion;
3. the demo loop (scan of the demo org, auto-fix campaigns until idle) on one tuned dev server, with a client and
   worker that encrypt vs ones that do not, runs interleaved (A, B, A, B…) so machine load falls on both alike;
4. the 200-target auto-fix campaign of bench/campaigns.py, likewise interleaved.

Ratios are with / without (issue 12's target: at most 1.1x). Wall time on a shared machine swings by more than the
codec costs, so 3 and 4 also give this process's CPU time (the worker and client, where every payload is
encrypted and decrypted), which the rest of the machine disturbs far less.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import campaigns
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from mendflow.codec import AesGcmCodec, PayloadKeys, new_key_text
from mendflow.config import TenantRegistry
from mendflow.data import demo_tenant_path
from mendflow.demo import simulated_github
from mendflow.models import ResourceRef, Severity
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbooks
from mendflow.runtime.client import TemporalSettings, connect
from mendflow.runtime.devserver import DevServer
from mendflow.runtime.ports import free_port
from mendflow.runtime.scans import run_scan_and_wait
from mendflow.runtime.worker import build_worker
from mendflow.telemetry import configure_logging
from mendflow.worker_context import WorkerContext
from mendflow.workflow_types import CampaignPlanDetail, Target

KEY_ENV = "MENDFLOW_BENCH_PAYLOAD_KEY"
SIZES = (1024, 64 * 1024, 1024 * 1024)
DEMO_LOOPS = 10
CAMPAIGN_RUNS = 5


def _keys() -> PayloadKeys:
    os.environ.setdefault(KEY_ENV, new_key_text())
    return PayloadKeys.parse(f"bench=env:{KEY_ENV}")


def bench_codec() -> None:
    codec = AesGcmCodec.from_keys(_keys())
    parts = []
    for size in SIZES:
        payloads = [Payload(metadata={"encoding": b"json/plain"}, data=secrets.token_bytes(size))]
        rounds = max(20, (64 * 1024 * 1024) // size // 4)
        started = time.perf_counter()
        for _ in range(rounds):
            codec.decrypt(codec.encrypt(payloads[0]))
        seconds = time.perf_counter() - started
        parts.append(f"{size // 1024} KiB {size * rounds / seconds / 1e6:,.0f} MB/s")
    print(f"codec encode+decode (AES-256-GCM, one payload at a time): {'; '.join(parts)}")


def _plan(targets: int) -> CampaignPlanDetail:
    return CampaignPlanDetail.model_validate(
        {
            "campaign_id": "remediate/github:acme/bench/0123456789abcdef",
            "tenant_key": "github:acme",
            "playbook_id": "github.repo_hook.insecure_ssl",
            "title": "Repository webhooks verify TLS",
            "severity": Severity.high,
            "compliance": ["CIS 1.2"],
            "mode": "auto",
            "action": "github.hook.set_config",
            "reversible": True,
            "targets": [
                Target(
                    fingerprint=f"{i:032x}",
                    resource=ResourceRef(type="github.repo_hook", id=f"/repos/acme/repo-{i}/hooks/{i}"),
                    current={"insecure_ssl": "1", "url": f"https://hooks.acme.example/{i}"},
                    intended={"insecure_ssl": "0"},
                )
                for i in range(targets)
            ],
            "approvers": ["group:secops-oncall"],
            "required_approvals": 1,
            "approval_timeout": "PT24H",
            "escalate_after": None,
            "escalate_to": None,
            "canary": 1,
            "batches": ["10%", "100%"],
            "bake": "PT0S",
            "max_failures": 0,
            "writes_per_minute": 600,
        }
    )


def bench_converter() -> None:
    """Encryption's share of one conversion: the converter's own work (pydantic JSON both ways) vs the codec on
    its result, each timed alone over many rounds (timing the two converters against each other drowns a ~50 us
    difference in this machine's noise)."""
    plan = _plan(200)
    codec = AesGcmCodec.from_keys(_keys())
    rounds = 500

    async def convert() -> float:
        started = time.perf_counter()
        for _ in range(rounds):
            payloads = await pydantic_data_converter.encode([plan])
            await pydantic_data_converter.decode(payloads, [CampaignPlanDetail])
        return (time.perf_counter() - started) / rounds

    [payload] = asyncio.run(pydantic_data_converter.encode([plan]))

    def seal() -> float:
        started = time.perf_counter()
        for _ in range(rounds):
            codec.decrypt(codec.encrypt(payload))
        return (time.perf_counter() - started) / rounds

    asyncio.run(convert())  # warm-up: pydantic builds its serializers on first use
    clear = min(asyncio.run(convert()) for _ in range(3))
    sealing = min(seal() for _ in range(3))
    print(
        f"data converter on a 200-target plan ({len(payload.data) / 1024:.0f} KiB JSON), encode+decode: "
        f"pydantic {clear * 1000:.2f} ms, + codec {sealing * 1000:.3f} ms = {(clear + sealing) / clear:.2f}x"
    )


Run = tuple[float, float]
"""(wall seconds, CPU seconds of this process: the worker and client, where the codec runs)."""


async def _timed(work: Awaitable[object]) -> Run:
    wall, cpu = time.perf_counter(), time.process_time()
    await work
    return time.perf_counter() - wall, time.process_time() - cpu


async def _interleaved(runs: int, once: Callable[[Client], Awaitable[Run]], plain: Client, sealed: Client) -> str:
    """Warm up both, then alternate which goes first; the figures as one line."""
    a: list[Run] = []
    b: list[Run] = []
    await once(plain)  # warm-up: first workflow on a fresh server, imports, sandbox
    await once(sealed)
    for i in range(runs):
        order = ((plain, a), (sealed, b)) if i % 2 == 0 else ((sealed, b), (plain, a))
        for client, out in order:
            out.append(await once(client))
    wall_a, wall_b = statistics.median(r[0] for r in a), statistics.median(r[0] for r in b)
    cpu_a, cpu_b = statistics.median(r[1] for r in a), statistics.median(r[1] for r in b)
    return (
        f"wall clear {wall_a:.2f}s, encrypted {wall_b:.2f}s = {wall_b / wall_a:.2f}x "
        f"(runs {', '.join(f'{r[0]:.2f}' for r in a)} | {', '.join(f'{r[0]:.2f}' for r in b)}); "
        f"worker+client CPU clear {cpu_a:.2f}s, encrypted {cpu_b:.2f}s = {cpu_b / cpu_a:.2f}x"
    )


async def bench_demo_loop(root: Path, server: DevServer, plain: Client, sealed: Client) -> None:
    playbooks = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks}
    counter = iter(range(1_000_000))

    async def once(client: Client) -> Run:
        i = next(counter)
        queue = f"bench-codec-{i}"
        with simulated_github(demo_tenant_path()) as (_, connection):
            registry = TenantRegistry(tenants={connection.key: connection})
            context = WorkerContext(registry=registry, data_dir=root / f"demo{i}", playbooks=playbooks)
            async with build_worker(client, context, task_queue=queue):
                return await _timed(run_scan_and_wait(client, connection.key, task_queue=queue))

    figures = await _interleaved(DEMO_LOOPS, once, plain, sealed)
    print(f"demo loop (scan + auto-fix campaigns until idle), {DEMO_LOOPS} interleaved runs each: {figures}")


async def bench_campaign(root: Path, server: DevServer, plain: Client, sealed: Client, targets: int) -> None:
    tenant_file = root / f"tenant-{targets}.json"
    campaigns._generate(targets, tenant_file)  # the same tenant bench/campaigns.py builds

    async def once(client: Client) -> Run:
        cpu = time.process_time()
        figures = await campaigns.campaign_once(client, server, tenant_file, targets, root)
        return figures.campaign_s, time.process_time() - cpu

    figures = await _interleaved(CAMPAIGN_RUNS, once, plain, sealed)
    print(f"auto-fix campaign of {targets} targets (bench/campaigns.py), {CAMPAIGN_RUNS} interleaved runs: {figures}")


async def main_async(targets: int, campaign: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with DevServer(data_dir=root, port=free_port(), headless=True) as server:
            plain = await connect(TemporalSettings(address=server.address))
            sealed = await connect(TemporalSettings(address=server.address, payload_keys=_keys()))
            await bench_demo_loop(root, server, plain, sealed)
            if campaign:
                await bench_campaign(root, server, plain, sealed, targets)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200, help="campaign size (default 200)")
    parser.add_argument("--no-campaign", action="store_true", help="skip the campaign comparison")
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    bench_codec()
    bench_converter()
    asyncio.run(main_async(args.targets, not args.no_campaign))


if __name__ == "__main__":
    main()
