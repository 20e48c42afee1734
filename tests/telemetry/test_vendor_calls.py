"""Vendor calls through the shared HTTP layer: one span each, counters by vendor and operation, no names leaked."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mendflow.connectors.http import RetryPolicy, VendorHttp
from mendflow.errors import VendorError
from mendflow.telemetry.exposition import MetricsPipeline
from mendflow.telemetry.tracing import WorkScope, scoped
from mendflow.telemetry.vendor_calls import operation_name
from tests.telemetry.conftest import scrape, total

TOKEN = "ghp_canaryTELEMETRYcanary0123456789abcd"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/orgs/acme/members?page=2&per_page=100", "GET /orgs/{id}/members"),
        ("PATCH", "/repos/acme/api/hooks/11/config", "PATCH /repos/{id}/{id}/hooks/{id}/config"),
        ("GET", "https://api.example/orgs/acme/repos?page=3", "GET /orgs/{id}/repos"),
        ("POST", "/api/v1/users/00u1abc/lifecycle/suspend", "POST /api/v1/users/{id}/lifecycle/suspend"),
        ("GET", "/repos/acme/web/branches/main/protection", "GET /repos/{id}/{id}/branches/{id}/protection"),
    ],
)
def test_operation_is_a_path_template_without_names(method: str, path: str, expected: str) -> None:
    """Logins, repository names, ids and query strings become `{id}` or vanish: labels stay few and anonymous."""
    assert operation_name(method, path) == expected


async def _no_sleep(seconds: float) -> None:
    return None


def _http(handler: httpx.MockTransport, vendor: str) -> VendorHttp:
    return VendorHttp(
        base_url="https://api.example",
        auth_header=f"Bearer {TOKEN}",
        vendor=vendor,
        sleep=_no_sleep,
        transport=handler,
        retries=RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0),
    )


async def test_a_rate_limited_then_answered_call_is_one_span_two_requests_one_429(
    spans: InMemorySpanExporter, pipeline: MetricsPipeline
) -> None:
    """The span is named after vendor and operation, carries the work scope, and the counters see each attempt."""
    answers = iter([httpx.Response(429, headers={"retry-after": "0"}), httpx.Response(200, json={"login": "acme"})])
    transport = httpx.MockTransport(lambda request: next(answers))
    labels = {"vendor": "vendor-a", "operation": "GET /orgs/{id}"}
    before = scrape(pipeline)
    with scoped(WorkScope(tenant="github:acme", playbook="github.org.two_factor_not_required", action="a.b")):
        async with _http(transport, "vendor-a") as http:
            assert await http.get_json("/orgs/acme") == {"login": "acme"}
    after = scrape(pipeline)
    (span,) = [s for s in spans.get_finished_spans() if s.name.startswith("vendor-a ")]
    assert span.name == "vendor-a GET /orgs/{id}"
    assert span.attributes is not None
    assert span.attributes["mendflow.playbook"] == "github.org.two_factor_not_required"
    assert span.attributes["mendflow.tenant"] == "github:acme"
    assert span.attributes["http.response.status_code"] == 200
    assert [e.name for e in span.events] == ["rate limited"]
    grew = {
        name: total(after, name, **labels) - total(before, name, **labels)
        for name in (
            "mendflow_connector_requests_total",
            "mendflow_connector_rate_limited_total",
            "mendflow_connector_errors_total",
            "mendflow_connector_request_duration_seconds_count",
        )
    }
    assert grew == {
        "mendflow_connector_requests_total": 2,
        "mendflow_connector_rate_limited_total": 1,
        "mendflow_connector_errors_total": 0,
        "mendflow_connector_request_duration_seconds_count": 1,
    }
    assert total(after, "mendflow_connector_requests_total", status_class="4xx", **labels) >= 1


async def test_a_failing_call_counts_an_error_by_type_and_marks_the_span(
    spans: InMemorySpanExporter, pipeline: MetricsPipeline
) -> None:
    """A 5xx that outlasts the retries: the error counter names its type; neither span nor metrics carry the
    token or the account name."""
    transport = httpx.MockTransport(lambda request: httpx.Response(502, json={"message": "bad gateway"}))
    before = scrape(pipeline)
    async with _http(transport, "vendor-b") as http:
        with pytest.raises(VendorError):
            await http.request("PATCH", "/repos/secretco/api/hooks/7/config", json={"insecure_ssl": "0"})
    after = scrape(pipeline)
    labels = {"vendor": "vendor-b", "operation": "PATCH /repos/{id}/{id}/hooks/{id}/config"}
    errors = total(after, "mendflow_connector_errors_total", error_type="VendorError", **labels)
    assert errors - total(before, "mendflow_connector_errors_total", error_type="VendorError", **labels) == 1
    (span,) = [s for s in spans.get_finished_spans() if s.name.startswith("vendor-b ")]
    assert span.status.status_code.name == "ERROR" and span.status.description == "VendorError"
    shown = repr(span.to_json()) + pipeline.render().decode()
    assert TOKEN not in shown and "secretco" not in shown


def test_vendor_calls_make_spans_only_once_a_tracer_provider_is_installed() -> None:
    """In a fresh process (providers are set once per process): no span work before `install_tracing`, a span
    per call and per step after it; the metrics are counted and the step's scope is set either way."""
    code = """
import asyncio, httpx
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from mendflow.connectors.http import VendorHttp
from mendflow.telemetry.config import TelemetrySettings
from mendflow.telemetry.exposition import install_metrics
from mendflow.telemetry.tracing import current_scope, install_tracing, step_span, tracing_enabled

seen, scopes = [], []
def answer(request):
    seen.append(trace.get_current_span().get_span_context().is_valid)
    return httpx.Response(200, json={})

async def call():
    with step_span("apply", "hook.fix"):
        scopes.append(current_scope().action)
        async with VendorHttp(base_url="https://api.example", auth_header="t", vendor="v",
                              transport=httpx.MockTransport(answer)) as http:
            await http.get_json("/orgs/acme")

pipeline = install_metrics()
before = tracing_enabled()
asyncio.run(call())
spans = InMemorySpanExporter()
install_tracing(TelemetrySettings(), exporter=spans)
asyncio.run(call())
trace.get_tracer_provider().force_flush()
counted = "mendflow_connector_requests_total{" in pipeline.render().decode()
print(before, tracing_enabled(), seen, [s.name for s in spans.get_finished_spans()], counted, scopes)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    expected = "False True [False, True] ['v GET /orgs/{id}', 'apply hook.fix'] True ['hook.fix', 'hook.fix']"
    assert done.stdout.split("\n")[0] == expected
