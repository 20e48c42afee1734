"""Starting telemetry from mendflow.yaml: a worker's own /metrics, and addresses checked before anything starts."""

from __future__ import annotations

import httpx
import pytest

from mendflow.errors import InputError
from mendflow.runtime.ports import free_port
from mendflow.settings import Settings
from mendflow.telemetry.config import TelemetrySettings
from mendflow.telemetry.exposition import MetricsPipeline, serve_metrics
from mendflow.telemetry.metrics import record_evidence_export
from mendflow.telemetry.setup import start_telemetry


def test_a_worker_serves_its_metrics_on_its_own_port(pipeline: MetricsPipeline) -> None:
    """`/metrics` on the worker's port carries what this process recorded (here M9, the evidence export hook)."""
    record_evidence_export(1.25, framework="SOC2")
    port = free_port("127.0.0.1")
    server, thread = serve_metrics(pipeline, host="127.0.0.1", port=port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert 'mendflow_evidence_export_duration_seconds_count{framework="SOC2"' in text


@pytest.mark.parametrize("field", ["metrics_address", "temporal_metrics_address"])
def test_an_address_without_a_port_is_refused_naming_the_field(field: str) -> None:
    """A typo in an address is the user's mistake (exit 2), reported with the config key, before anything binds."""
    with pytest.raises(InputError, match=f"telemetry.{field}: 'localhost' is not host:port"):
        start_telemetry(TelemetrySettings.model_validate({field: "localhost"}), serve=True)


def test_the_config_section_is_read_from_mendflow_yaml() -> None:
    """`telemetry:` in mendflow.yaml; unknown keys are refused like everywhere else in the file."""
    settings = Settings.model_validate({"telemetry": {"otlp_endpoint": "http://collector:4318/v1/traces"}})
    assert settings.telemetry.otlp_endpoint == "http://collector:4318/v1/traces"
    with pytest.raises(ValueError, match="otlp_endpiont"):
        Settings.model_validate({"telemetry": {"otlp_endpiont": "x"}})
