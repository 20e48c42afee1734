"""The vendor HTTP client's CPU per request (`make bench`, or `python bench/vendor_client.py`): asserts nothing.

1. On loopback: what a campaign target costs the worker in vendor exchanges (issue 11): read a repository hook's
   config, write it, read it again, through the GitHub provider's own client (`open_session`: auth header,
   pacing, the concurrency gate, telemetry as in a worker without a trace endpoint: the metrics pipeline, no
   tracer), against the GitHub simulator in its own process, `--concurrency` targets in flight.
2. The same exchanges answered in process by `httpx.MockTransport`: mendflow's layer and httpx's alone, without
   sockets (the kernel's share of loopback, charged to the sender, varies with the machine's load).

CPU time of this process only (the simulator's is not counted): the machine may be shared, and wall time would
measure the neighbours too. Each round runs in a fresh process; the figure is the median of `--rounds`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import github_sim

from mendflow.config import TenantConnection
from mendflow.connectors.http import VendorHttp
from mendflow.connectors.registry import open_session
from mendflow.telemetry import configure_logging
from mendflow.telemetry.exposition import install_metrics

TOKEN_ENV = "MENDFLOW_BENCH_VENDOR_CLIENT_TOKEN"


def _generate(targets: int, path: Path) -> list[str]:
    """The tenant file and the config paths of `targets` repository hooks (every 4 repositories hold 3)."""
    from mendflow.sim.generate import github_tenant

    tenant = github_tenant(repos=-(-targets // 3) * 4, members=5)
    path.write_text(json.dumps(tenant), encoding="utf-8")
    hooks = [
        f"/repos/{repo['full_name']}/hooks/{hook['id']}/config"
        for repo in tenant["github"]["repos"]
        for hook in repo.get("_hooks", [])
    ]
    assert len(hooks) >= targets, f"{len(hooks)} hooks for {targets} targets"
    return hooks[:targets]


async def _targets(connection: TenantConnection, paths: list[str], *, concurrency: int, warmup: int) -> float:
    """µs of this process's CPU per request over `paths` (read, write, read each), after `warmup` targets."""

    async def one(http: VendorHttp, path: str) -> None:
        await http.get_json(path)
        await http.request("PATCH", path, json={"insecure_ssl": "0"})
        await http.get_json(path)

    async with open_session(connection) as session:
        queue = list(paths)

        async def worker(todo: list[str]) -> None:
            while todo:
                await one(session.http, todo.pop())

        await worker(queue[:warmup])
        measured = queue[warmup:]
        started = time.process_time()
        await asyncio.gather(*(worker(measured) for _ in range(concurrency)))
        spent = time.process_time() - started
        return spent / ((len(paths) - warmup) * 3) * 1e6


async def _in_process(paths: list[str], *, concurrency: int, warmup: int) -> float:
    """µs of CPU per request with every answer made in process (a hook config as the simulator shows it)."""
    import httpx

    from mendflow.connectors.http import GITHUB_LIMITS

    config = {"content_type": "json", "insecure_ssl": "0", "url": "https://hooks.example/x"}
    answer = json.dumps(config).encode()
    headers = {"content-type": "application/json", "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999",
               "x-ratelimit-reset": str(int(time.time()) + 3600)}  # fmt: skip
    transport = httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, content=answer))
    http = VendorHttp(
        base_url="https://api.github.example",
        auth_header="Bearer t",
        vendor="GitHub",
        extra_headers={"X-GitHub-Api-Version": "2022-11-28", "Accept": "application/vnd.github+json"},
        rate_limits=GITHUB_LIMITS,
        transport=transport,
    )

    async def one(path: str) -> None:
        await http.get_json(path)
        await http.request("PATCH", path, json={"insecure_ssl": "0"})
        await http.get_json(path)

    async def worker(todo: list[str]) -> None:
        while todo:
            await one(todo.pop())

    async with http:
        await worker(paths[:warmup])
        measured = paths[warmup:]
        started = time.process_time()
        await asyncio.gather(*(worker(measured) for _ in range(concurrency)))
        return (time.process_time() - started) / (len(paths) - warmup) / 3 * 1e6


def one_round(targets: int, concurrency: int) -> float:
    """One measurement in this process: a fresh simulator, `targets` targets."""
    os.environ[TOKEN_ENV] = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as tmp:
        tenant_file = Path(tmp) / "tenant.json"
        paths = _generate(targets, tenant_file)
        with github_sim(tenant_file, TOKEN_ENV) as (connection, _sim):
            return asyncio.run(_targets(connection, paths, concurrency=concurrency, warmup=min(100, len(paths) // 5)))


def in_process_round(targets: int, concurrency: int) -> float:
    paths = [f"/repos/acme/svc-{n:04d}/hooks/{1_000_000 + n * 10}/config" for n in range(targets)]
    return asyncio.run(_in_process(paths, concurrency=concurrency, warmup=min(100, targets // 5)))


def _in_fresh_process(mode: str, targets: int, concurrency: int) -> float:
    done = subprocess.run(
        [sys.executable, __file__, "--one", mode, "--targets", str(targets), "--concurrency", str(concurrency)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["value"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000, help="repository hooks changed: 3 requests each")
    parser.add_argument("--concurrency", type=int, default=8, help="targets in flight (the tenant's default)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", choices=("loopback", "in-process"), help="(internal) one round in this process")
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    if args.one:
        install_metrics()  # as `start_telemetry` does in every worker
        measure = one_round if args.one == "loopback" else in_process_round
        print(json.dumps({"value": measure(args.targets, args.concurrency)}))
        return
    for mode, what in (("loopback", "on loopback (GitHub simulator"), ("in-process", "in process (MockTransport")):
        runs = [_in_fresh_process(mode, args.targets, args.concurrency) for _ in range(args.rounds)]
        print(
            f"vendor client {what}, {args.targets} targets × read/write/read, {args.concurrency} in flight): "
            f"median {statistics.median(runs):.0f} µs of CPU per request (rounds {', '.join(f'{r:.0f}' for r in runs)})"
        )


if __name__ == "__main__":
    main()
