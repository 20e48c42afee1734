"""Starting a process's telemetry from its settings, once, before it connects to Temporal."""

from __future__ import annotations

from mendflow.errors import InputError
from mendflow.telemetry.config import TelemetrySettings
from mendflow.telemetry.exposition import (
    MetricsPipeline,
    install_metrics,
    install_temporal_metrics,
    serve_metrics,
)
from mendflow.telemetry.tracing import install_tracing


def _host_port(value: str, *, field: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"telemetry.{field}: {value!r} is not host:port (e.g. 0.0.0.0:9464)")
    return host, int(port)


def start_telemetry(settings: TelemetrySettings, *, serve: bool = False) -> MetricsPipeline:
    """Traces (when an endpoint is configured), the metrics pipeline, Temporal's SDK metrics (when an address
    is), and, with `serve` (a worker without the API), `/metrics` on `settings.metrics_address`."""
    install_tracing(settings)
    pipeline = install_metrics(service_name=settings.service_name)
    if settings.temporal_metrics_address:
        _host_port(settings.temporal_metrics_address, field="temporal_metrics_address")
        install_temporal_metrics(settings.temporal_metrics_address)
    if serve and settings.metrics_address:
        host, port = _host_port(settings.metrics_address, field="metrics_address")
        serve_metrics(pipeline, host=host, port=port)
    return pipeline
