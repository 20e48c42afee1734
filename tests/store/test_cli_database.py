"""`mendflow worker --database-url`: a wrong URL is the user's mistake (exit 2), an unreachable database exit 1;
one line each, no traceback, never the password; both before any Temporal connection is tried.

The CLI's entry point runs in-process (a process costs ~2 s of imports; tests/cli/test_cli.py runs `mendflow
worker` as a real process).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_in_process import Done, invoker


def _worker(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Done:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants: []\n")
    return invoker(capsys, monkeypatch)(
        "worker", "--temporal-address", "127.0.0.1:1", "--tenants", str(tenants), "--data-dir", str(tmp_path / "data"),
        "--database-url", url,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("url", "code", "said"),
    [
        ("mysql://u@db/x", 2, "database 'mysql' is not supported"),
        ("sqlite://", 2, "in-memory SQLite database cannot be shared"),
        ("postgresql://m:pw-canary-4471@127.0.0.1:1/x?connect_timeout=2", 1, "cannot be used"),
    ],
    ids=["unsupported", "in-memory", "unreachable"],
)
def test_database_problems_are_one_line_and_keep_the_password(
    tmp_path: Path, url: str, code: int, said: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exit code says whose fault it is; the message names the database (password masked)."""
    result = _worker(tmp_path, url, capsys, monkeypatch)
    assert result.returncode == code, result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    assert "pw-canary-4471" not in result.stderr + result.stdout
    assert "Temporal" not in result.stderr  # the store is checked first
