"""What response-workflow tests share besides the simulators: the CLI run in-process, a history's payloads read."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mendflow.cli.main import _run

Cli = Callable[..., tuple[int, str, str]]
"""`cli("run", FILE, …)` → (exit code, stdout, stderr)."""


def in_process_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """`mendflow` run in this process (its exit code as the entry point returns it), output captured."""

    def cli(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr("sys.argv", ["mendflow", *args])
        code = _run()
        out = capsys.readouterr()
        return code, out.out, out.err

    return cli


def decoded_payloads(node: Any) -> Iterator[str]:
    """Every payload's data in a history's JSON form, decoded (base64 there): what Temporal stores, as text."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "data" and isinstance(value, str):
                yield base64.b64decode(value).decode("utf-8", "replace")
            else:
                yield from decoded_payloads(value)
    elif isinstance(node, list):
        for value in node:
            yield from decoded_payloads(value)
