"""What mendflow tells operators about itself: logs, traces and metrics (docs/operations.md).

    logs           stdlib logging + structlog, redacted; tenant/workflow/run/activity/finding/trace on each line
    tracing        work scope, step spans (prepare/apply/verify/restore), OTLP/HTTP export, Temporal's interceptor
    vendor_calls   one vendor request: span, counters and duration by vendor and path template
    metrics        the instruments, recorded where things happen (`record_evidence_export` is M9's hook)
    sspm           SSPM gauges read from the shared store at scrape time (M1, M4, M5, M7, M8, M10)
    scan_facts     what the gauges and M2/M3 need, written after the scan and settle activities
    interceptors   the worker's interceptor: log context, activity timings, SSPM facts, campaign outcomes
    exposition     the process's metrics pipeline, `/metrics`, Temporal SDK metrics
    config, setup  the `telemetry:` section of mendflow.yaml, and starting a process from it

Only the logging entry points are re-exported here: every module imports them, and the rest pulls in the SDK.
"""

from __future__ import annotations

from mendflow.telemetry.logs import configure_logging, get_logger

__all__ = ["configure_logging", "get_logger"]
