"""mendflow's own instruments (OpenTelemetry metrics API), recorded where things happen.

Instruments are created once, here, against the global meter provider: until a process installs a real provider
(`telemetry.exposition.install_metrics`) every recording is a no-op, so domain code and tests record freely.
Names and units follow the OpenTelemetry conventions (dotted names, UCUM units, `{thing}` for counts); the
Prometheus exporter turns `mendflow.connector.requests` into `mendflow_connector_requests_total` and a histogram in
seconds into `…_seconds_bucket`. The gauges that must agree across replicas (coverage, open findings, rates) are
not here: they read the shared store when scraped (`telemetry.sspm`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

METER_NAME = "mendflow"

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Seconds: one vendor request or one activity (most end well under a second; rate-limit waits run to minutes)."""
_HUMAN = (1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0, 30 * 86400.0)
"""Seconds: how long people and schedules take (minutes to weeks)."""

_meter = metrics.get_meter(METER_NAME)

_requests: dict[tuple[str, str, str], int] = {}
_requests_lock = threading.Lock()


def count_connector_request(vendor: str, operation: str, status_class: str) -> None:
    """One vendor request sent. Counted here and read at scrape time: a request is the hottest recording of a
    worker, and the SDK's own counter cleans and hashes the labels on every `add` (~10 µs of a request's CPU)."""
    key = (vendor, operation, status_class)
    with _requests_lock:
        _requests[key] = _requests.get(key, 0) + 1


def _connector_requests(options: CallbackOptions) -> Iterable[Observation]:
    with _requests_lock:
        counts = list(_requests.items())
    return [Observation(n, {"vendor": v, "operation": o, "status_class": s}) for (v, o, s), n in counts]


connector_requests = _meter.create_observable_counter(
    "mendflow.connector.requests",
    callbacks=[_connector_requests],
    unit="{request}",
    description="Requests sent to vendor APIs, by vendor, operation and HTTP status class.",
)
connector_rate_limited = _meter.create_counter(
    "mendflow.connector.rate_limited",
    unit="{response}",
    description="Vendor answers that said to slow down (429, or GitHub's 403 rate limit), by vendor and operation.",
)
connector_errors = _meter.create_counter(
    "mendflow.connector.errors",
    unit="{error}",
    description="Vendor requests that failed after retries, by vendor, operation and error type.",
)
connector_duration = _meter.create_histogram(
    "mendflow.connector.request.duration",
    unit="s",
    description="Time for one vendor request including retries and rate-limit waits.",
    explicit_bucket_boundaries_advisory=_FAST,
)
activity_duration = _meter.create_histogram(
    "mendflow.activity.duration",
    unit="s",
    description="Time for one activity attempt, by activity and outcome.",
    explicit_bucket_boundaries_advisory=_FAST,
)
campaigns = _meter.create_counter(
    "mendflow.campaigns",
    unit="{campaign}",
    description="Campaign runs that reached an outcome, by playbook and outcome.",
)
approval_wait = _meter.create_histogram(
    "mendflow.approval.wait",
    unit="s",
    description="From a campaign's start to the decision that ended its approval gate, by playbook and verdict.",
    explicit_bucket_boundaries_advisory=_HUMAN,
)
time_to_detect = _meter.create_histogram(
    "mendflow.finding.time_to_detect",
    unit="s",
    description="M2: from the tenant's previous scan (the finding was not there) to the scan that found it.",
    explicit_bucket_boundaries_advisory=_HUMAN,
)
time_to_remediate = _meter.create_histogram(
    "mendflow.finding.time_to_remediate",
    unit="s",
    description="M3: from when a finding was opened to when it resolved, by severity and resolution.",
    explicit_bucket_boundaries_advisory=_HUMAN,
)
evidence_export_duration = _meter.create_histogram(
    "mendflow.evidence.export.duration",
    unit="s",
    description="M9: time to export one evidence bundle, by framework.",
    explicit_bucket_boundaries_advisory=_FAST,
)


def record_evidence_export(seconds: float, *, framework: str | None = None) -> None:
    """M9: call once per finished evidence export (`framework` None: every framework)."""
    evidence_export_duration.record(max(seconds, 0.0), {"framework": framework or "all"})


def record_activity(seconds: float, *, activity: str, outcome: str) -> None:
    """One activity attempt: `completed`, `cancelled` or the exception type that ended it."""
    activity_duration.record(max(seconds, 0.0), {"activity": activity, "outcome": outcome})


def record_campaign(*, playbook: str, outcome: str) -> None:
    campaigns.add(1, {"playbook": playbook, "outcome": outcome})


def record_approval_wait(seconds: float, *, playbook: str, verdict: str) -> None:
    approval_wait.record(max(seconds, 0.0), {"playbook": playbook, "verdict": verdict})


def record_time_to_detect(seconds: float, *, severity: str, tenant: str) -> None:
    time_to_detect.record(max(seconds, 0.0), {"severity": severity, "tenant": tenant})


def record_time_to_remediate(seconds: float, *, severity: str, tenant: str, resolution: str) -> None:
    time_to_remediate.record(max(seconds, 0.0), {"severity": severity, "tenant": tenant, "resolution": resolution})


def _credential_ages(options: CallbackOptions) -> Iterable[Observation]:
    """Each tenant's long-lived credential age as `credential_age.record` last saw it (doctor, worker start)."""
    from mendflow.credential_age import AGE_DAYS  # it logs through telemetry: imported when scraped, not at import

    return [Observation(days, {"tenant": tenant}) for tenant, days in sorted(AGE_DAYS.items())]


credential_age = _meter.create_observable_gauge(
    "mendflow.credential.age",
    callbacks=[_credential_ages],
    unit="d",
    description="Age in days of each tenant's long-lived credential (app key or token); rotate past 90 by default.",
)
