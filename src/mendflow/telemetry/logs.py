"""Logging: stdlib logging as transport, structlog for structure, redaction before anything is written.

JSON lines when output is not a terminal (machines read it), a readable console format when it is. Every event
and every rendered exception goes through the redaction processor.

Context on every line, where it applies: `tenant`, `playbook`, `finding` and `activity` (bound by the worker's
activity interceptor, `telemetry.interceptors`), `workflow_id` and `run_id` (from Temporal's workflow and
activity loggers, whose records go through the same processors), and `trace_id`/`span_id` of the current span.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, WrappedLogger
from temporalio import activity, workflow

from mendflow.redaction import redact, redact_value

_TEMPORAL_FIELDS = {
    "temporal_workflow": {"workflow_id": "workflow_id", "run_id": "run_id", "workflow_type": "workflow_type"},
    "temporal_activity": {
        "workflow_id": "workflow_id",
        "workflow_run_id": "run_id",
        "activity_type": "activity",
        "attempt": "attempt",
    },
}


def _temporal_context(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Flatten the `temporal_workflow` / `temporal_activity` extras of Temporal's loggers into our field names."""
    for key, names in _TEMPORAL_FIELDS.items():
        details = event.pop(key, None)
        if isinstance(details, dict):
            for source, name in names.items():
                if details.get(source) is not None:
                    event.setdefault(name, details[source])
    return event


def _trace_context(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """The current span's trace and span ids, so a log line leads to its trace."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def _redact_event(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    return {k: redact_value(v, key=k) for k, v in event.items()}


class _RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """Redacts the final text too: exception text and third-party messages end up here."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(*, level: str = "INFO", json_output: bool | None = None, stream: Any = None) -> None:
    """Install structlog + stdlib logging. `json_output=None` picks JSON unless stderr is a terminal."""
    out = stream if stream is not None else sys.stderr
    use_json = (not out.isatty()) if json_output is None else json_output
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _trace_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    formatter = _RedactingFormatter(
        # extras of foreign records (Temporal's loggers, `extra=` in workflows) become fields, then get our names
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _temporal_context],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_event,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The context is in fields now; Temporal would also append it to every message as a dict's repr.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    for noisy in ("httpx", "httpcore", "uvicorn.access", "alembic"):  # alembic: one line per migration at start
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger for non-workflow code (workflows use `workflow.logger`)."""
    return structlog.stdlib.get_logger(name)
