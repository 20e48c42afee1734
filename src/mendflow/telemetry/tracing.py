"""Traces: Temporal's OpenTelemetry interceptor links client → workflow → activity; mendflow adds the steps.

The span tree of one campaign (see docs/operations.md):

    StartWorkflow:ScanWorkflow → RunWorkflow:ScanWorkflow → … → StartChildWorkflow:RemediationWorkflow
      → RunWorkflow:RemediationWorkflow → StartActivity:prepare_changes → RunActivity:prepare_changes
        → prepare <action> → <vendor> GET /…            (capture)
      → RunActivity:apply_changes → apply <action> → <vendor> PATCH /…, verify <action> → <vendor> GET /…

`WorkScope` is what an activity is working on (tenant, playbook, action, finding); the activity interceptor sets
it, and the step and vendor spans below it carry it as attributes, so a trace can be found by playbook or finding.
Spans are exported over OTLP/HTTP only when an endpoint is configured (`telemetry.otlp_endpoint` in mendflow.yaml
or `OTEL_EXPORTER_OTLP_ENDPOINT`); otherwise the API's no-op tracer makes all of this free.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Status, StatusCode
from temporalio.contrib.opentelemetry import TracingInterceptor

from mendflow.telemetry.config import TelemetrySettings

TRACER_NAME = "mendflow"


@dataclass(frozen=True)
class WorkScope:
    """What the running activity works on; empty fields do not apply."""

    tenant: str | None = None
    playbook: str | None = None
    action: str | None = None
    fingerprint: str | None = None
    resource: str | None = None

    def span_attributes(self) -> dict[str, str]:
        named = {
            "mendflow.tenant": self.tenant,
            "mendflow.playbook": self.playbook,
            "mendflow.action": self.action,
            "mendflow.finding": self.fingerprint,
            "mendflow.resource": self.resource,
        }
        return {k: v for k, v in named.items() if v}


_scope: ContextVar[WorkScope | None] = ContextVar("mendflow_work_scope", default=None)
_NOTHING = WorkScope()


def current_scope() -> WorkScope:
    return _scope.get() or _NOTHING


@contextmanager
def scoped(scope: WorkScope) -> Iterator[WorkScope]:
    """Run the block with `scope` as the current work (per asyncio task, like every context variable)."""
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


_TRACER = trace.get_tracer(TRACER_NAME)
"""A proxy until a process installs its provider, then that provider's tracer (looked up once, not per span)."""


def tracer() -> trace.Tracer:
    """mendflow's tracer."""
    return _TRACER


_NOT_TRACING = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)


def tracing_enabled() -> bool:
    """Whether this process installed an SDK tracer provider (`install_tracing`, when traces have somewhere to
    go). Until then a span is the API's no-op one, whose context attach and detach alone cost more than what the
    span would wrap: a vendor call's counters, a step's scope."""
    return not isinstance(trace.get_tracer_provider(), _NOT_TRACING)


@contextmanager
def step_span(step: str, action: str) -> Iterator[None]:
    """`prepare|apply|verify|restore <action>`: groups the vendor calls of one step of a change (its scope names
    the action for logs and vendor-call spans either way)."""
    scope = replace(current_scope(), action=action)
    if not tracing_enabled():
        with scoped(scope):
            yield
        return
    with (
        tracer().start_as_current_span(
            f"{step} {action}",
            attributes=scope.span_attributes(),
            record_exception=False,  # exception texts stay out of traces; the type says enough
            set_status_on_exception=False,
        ) as span,
        scoped(scope),
    ):
        try:
            yield
        except BaseException as err:
            span.set_status(Status(StatusCode.ERROR, type(err).__name__))
            raise


def tracing_interceptor() -> TracingInterceptor:
    """Temporal's interceptor: on the client, so every worker built from it inherits it."""
    return TracingInterceptor()


def install_tracing(settings: TelemetrySettings, *, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Install the process's tracer provider when traces have somewhere to go (an exporter, a configured or
    `OTEL_*` endpoint); otherwise leave the no-op default and return None."""
    endpoint = settings.otlp_endpoint
    env = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if exporter is None and not (endpoint or env):
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint, headers=dict(settings.otlp_headers) or None)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider
