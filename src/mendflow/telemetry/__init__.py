"""What mendflow tells operators about itself: logs, traces and metrics.

- `logs`: stdlib logging as transport, structlog for structure, redaction before anything is written; every line
  carries the tenant, workflow, run, activity, finding and trace it belongs to, where those apply.
"""

from __future__ import annotations

from mendflow.telemetry.logs import configure_logging, get_logger

__all__ = ["configure_logging", "get_logger"]
