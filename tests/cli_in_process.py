"""The CLI's own entry point run in-process: its exit code and output exactly as a shell would see them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mendflow.cli.main import _run


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def invoker(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Done]:
    """`invoke("scan", "--tenant-file", …)` runs `mendflow scan --tenant-file …` in this process."""

    def invoke(*args: str) -> Done:
        monkeypatch.setattr("sys.argv", ["mendflow", *args])
        # `--debug` sets MENDFLOW_DEBUG in os.environ for the process; recorded here, it is undone after the test
        # (left set, every later CLI run of this test process, in-process or child, printed tracebacks)
        monkeypatch.setenv("MENDFLOW_DEBUG", os.environ.get("MENDFLOW_DEBUG", ""))
        capsys.readouterr()
        code = _run()
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return invoke
