"""Telemetry's cost (`make bench`, or `python bench/telemetry.py`): prints figures, asserts nothing.

1. One vendor request through the shared HTTP layer (httpx MockTransport, so only our code is timed), in CPU
   time: with the OpenTelemetry API's no-op defaults, then with the SDK installed (a tracer provider exporting
   every span through a batch processor, and the metrics pipeline) — µs per request and the difference.
2. The 200-target auto-fix campaign of bench/campaigns.py with traces and metrics recorded vs the no-op defaults,
   each in a fresh process (a process sets its providers once), alternating: the worker process's CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from mendflow.connectors.http import VendorHttp
from mendflow.telemetry import configure_logging
from mendflow.telemetry.exposition import install_metrics

REQUESTS = 3000
CAMPAIGN_RUNS = 3


class Discard(SpanExporter):
    """Counts spans and drops them: the SDK's full cost without a collector's."""

    spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        Discard.spans += len(spans)
        return SpanExportResult.SUCCESS


def install_sdk() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    trace.set_tracer_provider(provider)
    install_metrics()


def _requests(traced: bool) -> float:
    if traced:
        install_sdk()
    return asyncio.run(per_request_us())


async def per_request_us() -> float:
    async def no_sleep(seconds: float) -> None:
        return None

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"login": "acme"}))
    async with VendorHttp(base_url="https://x", auth_header="Bearer t", vendor="github", transport=transport,
                          sleep=no_sleep) as http:  # fmt: skip
        for _ in range(200):  # warm up
            await http.get_json("/orgs/acme/members")
        started = time.process_time()  # CPU of this process (the span exporter's thread included): the machine
        for _ in range(REQUESTS):  # may be shared, and wall time would measure the neighbours too
            await http.get_json("/orgs/acme/members")
        return (time.process_time() - started) / REQUESTS * 1e6


def _in_fresh_process(mode: str, traced: bool) -> float:
    """Run one measurement in a new process: the OpenTelemetry providers are set once per process (and earlier
    benchmarks in `bench/run.py` may have installed them)."""
    done = subprocess.run(
        [sys.executable, __file__, f"--{mode}", "on" if traced else "off"], capture_output=True, text=True, check=True
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["value"])


def bench_requests() -> None:
    off = statistics.median(_in_fresh_process("requests", False) for _ in range(3))
    on = statistics.median(_in_fresh_process("requests", True) for _ in range(3))
    print(
        f"telemetry per vendor request (CPU): {off:.0f} µs with no-op providers, {on:.0f} µs with the SDK "
        f"(span + counters + histogram): +{on - off:.0f} µs per request (median of 3 processes each)"
    )


def campaign_seconds(traced: bool) -> float:
    """CPU seconds the worker spent on one 200-target campaign (bench/campaigns.py measures it), traced or not:
    CPU, because wall time on a shared machine measures the neighbours too."""
    sys.path.insert(0, str(Path(__file__).parent))
    import campaigns  # bench/campaigns.py

    from mendflow.runtime.client import TemporalSettings, connect
    from mendflow.runtime.devserver import DevServer
    from mendflow.runtime.ports import free_port

    if traced:
        install_sdk()

    async def run() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            tenant_file = root / "tenant.json"
            campaigns._generate(200, tenant_file)
            with DevServer(data_dir=root, port=free_port(), headless=True) as server:
                client = await connect(TemporalSettings(address=server.address))
                figures = await campaigns.campaign_once(client, server, tenant_file, 200, root)
                return float(figures.cpu_ms["worker"]) * 200 / 1000

    return asyncio.run(run())


def bench_campaign() -> None:
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(CAMPAIGN_RUNS):
        for traced in (False, True):
            times[traced].append(_in_fresh_process("campaign", traced))
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(
        f"200-target campaign, worker CPU: {off:.1f}s without telemetry SDK, {on:.1f}s with traces and metrics "
        f"({on / off:.2f}x; runs off {', '.join(f'{t:.1f}' for t in times[False])}, "
        f"on {', '.join(f'{t:.1f}' for t in times[True])})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaign", choices=("on", "off"), help="(internal) one campaign in this process")
    parser.add_argument("--requests", choices=("on", "off"), help="(internal) the per-request figure, this process")
    parser.add_argument("--requests-only", action="store_true", help="skip the campaign comparison")
    args = parser.parse_args(argv)
    configure_logging(level="ERROR")
    if args.campaign or args.requests:
        traced = (args.campaign or args.requests) == "on"
        value = campaign_seconds(traced) if args.campaign else _requests(traced)
        print(json.dumps({"value": value}))
        return
    bench_requests()
    if not args.requests_only:
        bench_campaign()


if __name__ == "__main__":
    main()
