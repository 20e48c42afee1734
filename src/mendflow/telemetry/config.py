"""The `telemetry:` section of mendflow.yaml: where traces go and where a worker serves its metrics."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TelemetrySettings(BaseModel):
    """Traces and metrics of one process (API, worker or the embedded stack)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service_name: str = "mendflow"
    """`service.name` on every span and metric resource."""
    otlp_endpoint: str | None = None
    """OTLP/HTTP traces endpoint (e.g. `http://otel-collector:4318/v1/traces`); unset: no traces leave the
    process, unless `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` names one."""
    otlp_headers: dict[str, str] = Field(default_factory=dict)
    """Extra headers for the OTLP exporter (a collector's tenant id; credentials belong in `OTEL_*` variables)."""
    metrics_address: str | None = None
    """`host:port` where a worker without the API serves `/metrics` (the API always serves it); unset: none."""
    temporal_metrics_address: str | None = None
    """`host:port` where the Temporal SDK's own metrics are served in Prometheus format; unset: not collected."""
