"""Logging: stdlib logging as transport, structlog for structure, redaction before anything is written.

JSON lines when output is not a terminal (machines read it), a readable console format when it is. Every event
and every rendered exception goes through the redaction processor.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from mendflow.redaction import redact, redact_value


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
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    formatter = _RedactingFormatter(
        foreign_pre_chain=shared,
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
