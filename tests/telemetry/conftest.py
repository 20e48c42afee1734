"""Telemetry fixtures: one in-memory span exporter and the process's metrics pipeline, installed once.

OpenTelemetry lets a process set its tracer and meter providers once, so these are session-wide: tests read
what they caused by filtering on their own trace or labels, or by comparing counts before and after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from mendflow.telemetry.exposition import MetricsPipeline, install_metrics

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="session")
def _tracer_provider() -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):  # installed by an earlier test module of this session
        current.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        return current
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)
    return provider


@pytest.fixture
def spans(_tracer_provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    """Spans finished during the test (cleared before it starts)."""
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


@pytest.fixture(scope="session")
def pipeline() -> MetricsPipeline:
    return install_metrics()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(pipeline: MetricsPipeline) -> Samples:
    """Every sample of the Prometheus text: (name, labels) → value."""
    out: Samples = {}
    for family in text_string_to_metric_families(pipeline.render().decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples named `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)
