"""The progress line `mendflow scan --tenant` redraws on a terminal's stderr while the collection runs.

Only on a terminal and only for the table format: `--format json` and redirected stderr (logs, CI) get nothing
extra, so what a script reads never changes.
"""

from __future__ import annotations

from typing import TextIO

from mendflow.scan_progress import ScanProgress

CLEAR = "\r\x1b[K"
"""Back to the line's start and erase it (ANSI), so each report replaces the last."""


class TerminalProgress:
    """Redraws one line on `stream`; `close` erases it before the results are printed."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def show(self, progress: ScanProgress) -> None:
        width = 200
        self.stream.write(CLEAR + progress.line()[:width])
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write(CLEAR)
            self.stream.flush()
            self.shown = False


def terminal_progress(stream: TextIO, *, table: bool) -> TerminalProgress | None:
    """A progress line for `stream` when it is a terminal and the output is the table; None otherwise."""
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        interactive = False
    return TerminalProgress(stream) if table and interactive else None
