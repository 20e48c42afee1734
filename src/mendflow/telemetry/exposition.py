"""The metrics pipeline of one process: OpenTelemetry SDK → Prometheus text at `/metrics`.

`install_metrics` sets the global meter provider once per process, with a Prometheus reader on a registry of our
own (not prometheus_client's global one), so `render()` is exactly mendflow's metrics. The API serves it at
`GET /metrics`; a worker without the API serves it on `--metrics-port`. Temporal's own SDK metrics (task
latencies, poller counts, sticky cache) come from its Rust core through the runtime's Prometheus endpoint
(`install_temporal_metrics`), set up before the first client connects.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, start_http_server
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from mendflow.store import Database
from mendflow.telemetry.metrics import METER_NAME
from mendflow.telemetry.sspm import register_sspm_gauges


@dataclass
class MetricsPipeline:
    provider: MeterProvider
    registry: CollectorRegistry

    def render(self) -> bytes:
        """Everything this process measured, in Prometheus text format."""
        return generate_latest(self.registry)

    def observe_store(self, database: Database) -> None:
        """Add the SSPM gauges, read from `database` at each scrape (API processes: one shared store)."""
        register_sspm_gauges(self.provider.get_meter(f"{METER_NAME}.sspm"), database)


_installed: MetricsPipeline | None = None
_lock = threading.Lock()


def install_metrics(*, service_name: str = "mendflow", readers: tuple[MetricReader, ...] = ()) -> MetricsPipeline:
    """The process's pipeline, created on first call (later calls return it; `readers` only count the first time:
    the OpenTelemetry API lets a process set its meter provider once)."""
    global _installed
    with _lock:
        if _installed is None:
            registry = CollectorRegistry(auto_describe=True)
            provider = MeterProvider(
                metric_readers=[PrometheusMetricReader(registry=registry), *readers],
                resource=Resource.create({"service.name": service_name}),
            )
            metrics.set_meter_provider(provider)
            _installed = MetricsPipeline(provider=provider, registry=registry)
        return _installed


def metrics_route(pipeline: MetricsPipeline) -> Route:
    """`GET /metrics` for the API app (no authentication, like any scrape target: keep it on the internal
    network; it carries counts and tenant keys, never secrets or finding details)."""

    async def scrape(request: Request) -> Response:
        return Response(pipeline.render(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", scrape, methods=["GET"])


def serve_metrics(pipeline: MetricsPipeline, *, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Serve `/metrics` on its own port (workers); stop with `server.shutdown()` then `server.server_close()`."""
    return start_http_server(port, addr=host, registry=pipeline.registry)


def install_temporal_metrics(bind_address: str) -> None:
    """Expose the Temporal SDK's metrics at `http://<bind_address>/metrics`; call before any client connects."""
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))
    Runtime.set_default(runtime, error_if_already_set=False)
