"""Log lines carry their context (Temporal's loggers included) and stay redacted."""

from __future__ import annotations

import io
import json
import logging

import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mendflow.redaction import register_secret
from mendflow.telemetry import configure_logging, get_logger
from mendflow.telemetry.tracing import tracer

CANARY = "xoxb-canary-LOGCONTEXT-0123456789abcdef"


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_written_inside_a_span_carries_its_trace_and_bound_context(spans: InMemorySpanExporter) -> None:
    """trace_id/span_id of the current span and the variables an activity bound (tenant, finding)."""
    stream = io.StringIO()
    configure_logging(level="INFO", json_output=True, stream=stream)
    with (
        tracer().start_as_current_span("work") as span,
        structlog.contextvars.bound_contextvars(tenant="github:acme", finding="f" * 64),
    ):
        get_logger("t").info("inside")
    get_logger("t").info("outside")
    inside, outside = _lines(stream)
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["tenant"] == "github:acme" and inside["finding"] == "f" * 64
    assert "trace_id" not in outside and "tenant" not in outside


def test_temporal_logger_details_become_fields_and_secrets_stay_masked() -> None:
    """The `temporal_activity` extra is flattened to workflow_id/run_id/activity, not appended to the message,
    and a registered secret in the message or an extra is masked."""
    register_secret(CANARY)
    stream = io.StringIO()
    configure_logging(level="INFO", json_output=True, stream=stream)
    details = {"activity_type": "change_resource", "workflow_id": "remediate/x", "workflow_run_id": "r1", "attempt": 2}
    logging.getLogger("temporalio.activity").warning(
        "vendor said %s", CANARY, extra={"temporal_activity": details, "token_seen": CANARY}
    )
    (line,) = _lines(stream)
    assert line["activity"] == "change_resource" and line["workflow_id"] == "remediate/x" and line["run_id"] == "r1"
    assert line["attempt"] == 2 and "temporal_activity" not in line
    assert CANARY not in stream.getvalue()
